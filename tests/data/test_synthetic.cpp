#include "revunet/data/synthetic.h"

#include <gtest/gtest.h>

#include <filesystem>

#include "data/temp_dir.h"
#include "revunet/core/error.h"
#include "revunet/data/regions.h"

namespace revunet::data {
namespace {

namespace fs = std::filesystem;
using testing::error_of;
using testing::TempDir;

const char* kColin27Dir = "/usr/share/mricron/templates";

SynthOptions small(uint64_t seed, LabelConvention convention = LabelConvention::kBraTS2021) {
  SynthOptions o;
  o.shape = {32, 32, 24};
  o.seed = seed;
  o.convention = convention;
  return o;
}

double mean_where(const torch::Tensor& image, const torch::Tensor& mask) {
  return image.masked_select(mask).mean().item<double>();
}

double dice(const torch::Tensor& a, const torch::Tensor& b) {
  const double inter = a.logical_and(b).sum().item<double>();
  return 2 * inter / (a.sum().item<double>() + b.sum().item<double>());
}

TEST(Synthetic, SameSeedGivesIdenticalCasesAndOtherSeedsDiffer) {
  const SynthCase a = SyntheticGenerator(small(3)).make_case(0);
  const SynthCase b = SyntheticGenerator(small(3)).make_case(0);
  EXPECT_TRUE(torch::equal(a.image, b.image));
  EXPECT_TRUE(torch::equal(a.label, b.label));
  const SynthCase other_seed = SyntheticGenerator(small(4)).make_case(0);
  const SynthCase other_case = SyntheticGenerator(small(3)).make_case(1);
  EXPECT_FALSE(torch::equal(a.image, other_seed.image));
  EXPECT_FALSE(torch::equal(a.label, other_case.label));
  EXPECT_EQ(a.id, "Synth_000");
  EXPECT_EQ(other_case.id, "Synth_001");
}

TEST(Synthetic, LabelsFollowTheConventionWithATumourOfPlausibleSize) {
  for (auto convention : {LabelConvention::kBraTS2021, LabelConvention::kBraTS2023}) {
    const SyntheticGenerator generator(small(11, convention));
    const auto allowed = label_values(convention);
    for (int64_t i = 0; i < 3; ++i) {
      const SynthCase c = generator.make_case(i);
      EXPECT_EQ(c.image.sizes(), (std::vector<int64_t>{4, 32, 32, 24}));
      EXPECT_EQ(c.label.scalar_type(), torch::kInt64);
      const torch::Tensor counts = torch::bincount(c.label.flatten());
      for (int64_t v = 0; v < counts.numel(); ++v) {
        if (counts[v].item<int64_t>() > 0) {
          EXPECT_NE(std::find(allowed.begin(), allowed.end(), v), allowed.end()) << v;
        }
      }
      const torch::Tensor regions = labels_to_regions(c.label, convention);
      const double brain = c.brain.sum().item<double>();
      const double wt = regions[0].sum().item<double>() / brain;
      EXPECT_GT(wt, 0.005) << "case " << i;
      EXPECT_LT(wt, 0.10) << "case " << i;
      EXPECT_GT(regions[2].sum().item<double>(), 0) << "no enhancing tumour in case " << i;
      // Labels only inside the brain; images zero outside it and positive inside.
      EXPECT_EQ(c.label.masked_select(c.brain.logical_not()).sum().item<int64_t>(), 0);
      EXPECT_EQ(c.image.masked_select(c.brain.logical_not().expand_as(c.image))
                    .abs()
                    .sum()
                    .item<double>(),
                0.0);
      EXPECT_GT(c.image.masked_select(c.brain.expand_as(c.image)).min().item<double>(), 0.0);
    }
  }
}

TEST(Synthetic, ContrastsShowTheTumourAsInRealScans) {
  const SynthOptions o = small(5);
  const SyntheticGenerator generator(o);
  for (int64_t i = 0; i < 2; ++i) {
    const SynthCase c = generator.make_case(i);
    const auto& spec = convention_spec(o.convention);
    const torch::Tensor healthy = c.brain.logical_and(c.label == 0);
    const torch::Tensor ed = c.label == spec.ed, et = c.label == spec.et;
    const torch::Tensor t1 = c.image[0], t1ce = c.image[1], t2 = c.image[2], flair = c.image[3];
    EXPECT_GT(mean_where(flair, ed), 1.4 * mean_where(flair, healthy)) << "oedema bright on FLAIR";
    EXPECT_GT(mean_where(t2, ed), 1.1 * mean_where(t2, healthy)) << "oedema bright on T2";
    EXPECT_GT(mean_where(t1ce, et), 1.5 * mean_where(t1ce, healthy)) << "rim bright on T1ce";
    EXPECT_GT(mean_where(t1ce, et), 1.5 * mean_where(t1, et)) << "rim enhances";
  }
  // The necrotic core (large enough in a bigger volume) is dark on T1.
  SynthOptions big = o;
  big.shape = {64, 64, 48};
  const SynthCase c = SyntheticGenerator(big).make_case(0);
  const torch::Tensor ncr = c.label == 1;
  ASSERT_GT(ncr.sum().item<int64_t>(), 0);
  EXPECT_LT(mean_where(c.image[0], ncr),
            0.6 * mean_where(c.image[0], c.brain.logical_and(c.label == 0)));
}

// A proxy for "a small network learns it": a fixed threshold on z-scored FLAIR + T2 already
// finds most of the whole tumour.
TEST(Synthetic, WholeTumourStandsOutOnFlairAndT2) {
  SynthOptions o = small(21);
  o.shape = {48, 48, 36};
  const SyntheticGenerator generator(o);
  for (int64_t i = 0; i < 2; ++i) {
    const SynthCase c = generator.make_case(i);
    torch::Tensor score = torch::zeros_like(c.image[0]);
    for (int m : {2, 3}) {
      const torch::Tensor v = c.image[m].masked_select(c.brain);
      score += (c.image[m] - v.mean()) / v.std();
    }
    const torch::Tensor predicted = (score > 2.0).logical_and(c.brain);
    EXPECT_GT(dice(predicted, c.label > 0), 0.6) << "case " << i;
  }
}

TEST(Synthetic, WritesCaseFoldersThatDiscoveryAndLoadingAccept) {
  TempDir dir;
  for (auto convention : {LabelConvention::kBraTS2021, LabelConvention::kBraTS2023}) {
    SynthOptions o = small(9, convention);
    o.shape = {24, 20, 16};
    o.spacing = 2.0;
    const std::string out = (dir.path() / convention_spec(convention).key).string();
    const auto dirs = write_synthetic_dataset(out, 2, o);
    ASSERT_EQ(dirs.size(), 2u);
    EXPECT_TRUE(fs::exists(out + "/synth.json"));
    const auto cases = discover_cases(out);
    ASSERT_EQ(cases.size(), 2u);
    EXPECT_EQ(cases[1].id, "Synth_001");
    EXPECT_EQ(cases[1].convention, convention);
    const Case loaded = load_case(cases[1]);
    const SynthCase made = SyntheticGenerator(o).make_case(1);
    EXPECT_TRUE(torch::equal(loaded.image, made.image));
    EXPECT_TRUE(torch::equal(loaded.label, made.label));
    EXPECT_EQ(loaded.reference.spacing, (std::array<double, 3>{2, 2, 2}));
  }
}

TEST(Synthetic, DefaultCanvasIsTheBraTSFieldOfViewAtTheSpacing) {
  EXPECT_EQ(default_canvas(1), (std::array<int64_t, 3>{240, 240, 155}));
  EXPECT_EQ(default_canvas(2), (std::array<int64_t, 3>{120, 120, 78}));
  EXPECT_EQ(parse_anatomy("colin27"), Anatomy::kColin27);
  EXPECT_NE(error_of([] { parse_anatomy("mni"); }).find("--anatomy"), std::string::npos);
}

TEST(Synthetic, Colin27WithoutItsPackageSaysWhatToInstall) {
  TempDir dir;
  const std::string msg = error_of([&] { load_colin27(dir.path().string()); });
  EXPECT_NE(msg.find("apt-get install mricron-data"), std::string::npos) << msg;
}

TEST(Synthetic, Colin27CasesAreDeformedBrainsWithTumours) {
  if (!fs::exists(std::string(kColin27Dir) + "/ch2bet.nii.gz")) {
    GTEST_SKIP() << "Colin27 not installed (apt-get install mricron-data)";
  }
  SynthOptions o;
  o.anatomy = Anatomy::kColin27;
  o.spacing = 4.0;
  o.seed = 2;
  const SyntheticGenerator generator(o);
  EXPECT_EQ(generator.shape(), (std::array<int64_t, 3>{60, 60, 39}));
  const SynthCase a = generator.make_case(0);
  const SynthCase b = generator.make_case(1);
  EXPECT_EQ(a.image.sizes(), (std::vector<int64_t>{4, 60, 60, 39}));
  // Colin27's brain is about 1.7 l; each case scales it by up to ±6 % per axis.
  const double brain_ml = a.brain.sum().item<double>() * 64 / 1000;
  EXPECT_GT(brain_ml, 1200);
  EXPECT_LT(brain_ml, 2300);
  EXPECT_GT((a.label > 0).sum().item<int64_t>(), 0);
  EXPECT_FALSE(torch::equal(a.brain, b.brain)) << "each case is deformed differently";
  EXPECT_TRUE(torch::equal(a.image, generator.make_case(0).image));
  const torch::Tensor healthy = a.brain.logical_and(a.label == 0);
  EXPECT_GT(mean_where(a.image[3], a.label == 2), 1.4 * mean_where(a.image[3], healthy));
}

}  // namespace
}  // namespace revunet::data
