#include "revunet/data/case_cache.h"

#include <torch/torch.h>
#include <zlib.h>

#include <cctype>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <utility>
#include <vector>

#include "revunet/core/atomic_file.h"
#include "revunet/core/error.h"

namespace revunet::data {
namespace {

namespace fs = std::filesystem;

constexpr char kMagic[8] = {'R', 'V', 'U', 'N', 'C', 'A', 'S', 'E'};
constexpr uint32_t kVersion = 1;
constexpr uint32_t kByteOrderTag = 0x01020304;
constexpr size_t kPrefixBytes = sizeof(kMagic) + 4 + 4 + 8;
// A header is a few hundred bytes; anything larger is corruption, not a case.
constexpr uint64_t kMaxHeaderBytes = 1 << 20;
constexpr int kMaxDims = 8;

// Stable on-disk dtype codes (c10::ScalarType's numbering is not a file format).
struct DtypeCode {
  torch::Dtype dtype;
  uint8_t code;
};
constexpr DtypeCode kDtypes[] = {{torch::kFloat, 1}, {torch::kUInt8, 2}, {torch::kDouble, 3},
                                 {torch::kLong, 4},  {torch::kInt, 5},   {torch::kHalf, 6},
                                 {torch::kBool, 7},  {torch::kShort, 8}, {torch::kInt8, 9}};

uint8_t dtype_code(torch::Dtype dtype) {
  for (const auto& d : kDtypes) {
    if (d.dtype == dtype) return d.code;
  }
  TORCH_CHECK(false, "the case cache cannot store tensors of dtype ", dtype);
}

std::optional<torch::Dtype> dtype_from_code(uint8_t code) {
  for (const auto& d : kDtypes) {
    if (d.code == code) return d.dtype;
  }
  return std::nullopt;
}

// crc32 over any length (zlib takes uInt lengths).
uLong crc_update(uLong crc, const void* data, size_t n) {
  const auto* p = static_cast<const Bytef*>(data);
  while (n > 0) {
    const uInt chunk = static_cast<uInt>(std::min<size_t>(n, 1u << 30));
    crc = crc32(crc, p, chunk);
    p += chunk;
    n -= chunk;
  }
  return crc;
}

class HeaderWriter {
 public:
  template <typename T>
  void put(T value) {
    static_assert(std::is_trivially_copyable_v<T>);
    bytes_.append(reinterpret_cast<const char*>(&value), sizeof(T));
  }
  void put_string(const std::string& s) {
    put<uint32_t>(static_cast<uint32_t>(s.size()));
    bytes_.append(s);
  }
  const std::string& bytes() const { return bytes_; }

 private:
  std::string bytes_;
};

// Bounds-checked reads from the header; `ok()` turns false on the first overrun.
class HeaderReader {
 public:
  explicit HeaderReader(const std::string& bytes) : bytes_(bytes) {}
  template <typename T>
  T get() {
    T value{};
    if (pos_ + sizeof(T) > bytes_.size()) {
      ok_ = false;
      return value;
    }
    std::memcpy(&value, bytes_.data() + pos_, sizeof(T));
    pos_ += sizeof(T);
    return value;
  }
  std::string get_string() {
    const auto n = get<uint32_t>();
    if (!ok_ || pos_ + n > bytes_.size()) {
      ok_ = false;
      return {};
    }
    std::string s = bytes_.substr(pos_, n);
    pos_ += n;
    return s;
  }
  bool ok() const { return ok_; }
  bool at_end() const { return pos_ == bytes_.size(); }

 private:
  const std::string& bytes_;
  size_t pos_ = 0;
  bool ok_ = true;
};

struct TensorSpec {
  torch::Dtype dtype = torch::kFloat;
  std::vector<int64_t> sizes;
  uint64_t nbytes = 0;
};

void put_tensor_spec(HeaderWriter& w, const torch::Tensor& t) {
  w.put<uint8_t>(t.defined() ? 1 : 0);
  if (!t.defined()) return;
  w.put<uint8_t>(dtype_code(t.scalar_type()));
  w.put<uint8_t>(static_cast<uint8_t>(t.dim()));
  for (int64_t s : t.sizes()) w.put<int64_t>(s);
}

// Reads one tensor's description; false on anything a writer could not have produced.
bool get_tensor_spec(HeaderReader& r, std::optional<TensorSpec>* spec) {
  const auto present = r.get<uint8_t>();
  if (!r.ok() || present > 1) return false;
  if (present == 0) {
    spec->reset();
    return true;
  }
  TensorSpec s;
  const auto dtype = dtype_from_code(r.get<uint8_t>());
  const auto ndim = r.get<uint8_t>();
  if (!r.ok() || !dtype || ndim > kMaxDims) return false;
  s.dtype = *dtype;
  uint64_t numel = 1;
  for (int d = 0; d < ndim; ++d) {
    const auto size = r.get<int64_t>();
    // Sizes beyond 2^40 voxels per dim are corruption; the bound also keeps numel from overflowing.
    if (!r.ok() || size < 0 || size > (int64_t{1} << 40)) return false;
    s.sizes.push_back(size);
    if (size != 0 && numel > (uint64_t{1} << 40) / static_cast<uint64_t>(size)) return false;
    numel *= static_cast<uint64_t>(size);
  }
  s.nbytes = numel * c10::elementSize(s.dtype);
  *spec = std::move(s);
  return true;
}

std::optional<PreprocessedCase> reject(std::string* why_not, std::string why) {
  if (why_not) *why_not = std::move(why);
  return std::nullopt;
}

}  // namespace

void save_cached_case(const std::string& path, const PreprocessedCase& c, const std::string& key) {
  TORCH_CHECK(c.image.defined(), "save_cached_case(", c.id, "): the case has no image");
  const torch::Tensor image = c.image.cpu().contiguous();
  const torch::Tensor regions =
      c.regions.defined() ? c.regions.cpu().contiguous() : torch::Tensor();

  HeaderWriter h;
  h.put_string(c.id);
  h.put_string(key);
  for (int64_t v : c.box.lo) h.put<int64_t>(v);
  for (int64_t v : c.box.hi) h.put<int64_t>(v);
  for (int64_t v : c.original_shape) h.put<int64_t>(v);
  for (double v : c.spacing) h.put<double>(v);
  put_tensor_spec(h, image);
  put_tensor_spec(h, regions);

  std::string prefix(kMagic, sizeof(kMagic));
  HeaderWriter p;
  p.put<uint32_t>(kVersion);
  p.put<uint32_t>(kByteOrderTag);
  p.put<uint64_t>(h.bytes().size());
  prefix += p.bytes();

  core::write_atomically(path, [&](std::ostream& out) {
    uLong crc = crc32(0L, Z_NULL, 0);
    auto write = [&](const void* data, size_t n) {
      out.write(static_cast<const char*>(data), static_cast<std::streamsize>(n));
      crc = crc_update(crc, data, n);
    };
    write(prefix.data(), prefix.size());
    write(h.bytes().data(), h.bytes().size());
    write(image.data_ptr(), image.nbytes());
    if (regions.defined()) write(regions.data_ptr(), regions.nbytes());
    const auto crc32_value = static_cast<uint32_t>(crc);
    out.write(reinterpret_cast<const char*>(&crc32_value), sizeof(crc32_value));
  });
}

std::optional<PreprocessedCase> load_cached_case(const std::string& path, const std::string& key,
                                                 std::string* why_not) {
  std::error_code ec;
  const uint64_t file_bytes = fs::file_size(path, ec);
  if (ec) return reject(why_not, "missing or unreadable");
  std::ifstream in(path, std::ios::binary);
  if (!in) return reject(why_not, "cannot be opened");

  uLong crc = crc32(0L, Z_NULL, 0);
  auto read = [&](void* data, size_t n) {
    in.read(static_cast<char*>(data), static_cast<std::streamsize>(n));
    if (!in) return false;
    crc = crc_update(crc, data, n);
    return true;
  };

  char prefix[kPrefixBytes];
  if (file_bytes < kPrefixBytes + 4 || !read(prefix, kPrefixBytes)) {
    return reject(why_not, "truncated (" + std::to_string(file_bytes) + " bytes)");
  }
  if (std::memcmp(prefix, kMagic, sizeof(kMagic)) != 0) {
    return reject(why_not, "not a revunet case cache file (bad magic)");
  }
  uint32_t version = 0, order = 0;
  uint64_t header_bytes = 0;
  std::memcpy(&version, prefix + 8, 4);
  std::memcpy(&order, prefix + 12, 4);
  std::memcpy(&header_bytes, prefix + 16, 8);
  if (order != kByteOrderTag) return reject(why_not, "written with another byte order");
  if (version != kVersion) {
    return reject(why_not, "format version " + std::to_string(version) + ", expected " +
                               std::to_string(kVersion));
  }
  if (header_bytes > kMaxHeaderBytes || header_bytes > file_bytes - kPrefixBytes - 4) {
    return reject(why_not, "corrupt or truncated header (length " + std::to_string(header_bytes) +
                               " in a file of " + std::to_string(file_bytes) + " bytes)");
  }
  std::string header(header_bytes, '\0');
  if (!read(header.data(), header.size())) return reject(why_not, "truncated header");

  HeaderReader r(header);
  PreprocessedCase c;
  c.id = r.get_string();
  const std::string file_key = r.get_string();
  for (auto& v : c.box.lo) v = r.get<int64_t>();
  for (auto& v : c.box.hi) v = r.get<int64_t>();
  for (auto& v : c.original_shape) v = r.get<int64_t>();
  for (auto& v : c.spacing) v = r.get<double>();
  std::optional<TensorSpec> image_spec, regions_spec;
  if (!r.ok() || !get_tensor_spec(r, &image_spec) || !get_tensor_spec(r, &regions_spec) ||
      !r.at_end() || !image_spec) {
    return reject(why_not, "corrupt header");
  }
  // Checked before reading the data: a stale file is common and needs no checksum to reject.
  if (file_key != key) {
    return reject(why_not, "stale (written with key '" + file_key + "', expected '" + key + "')");
  }
  const uint64_t data_bytes = image_spec->nbytes + (regions_spec ? regions_spec->nbytes : 0);
  const uint64_t expected = kPrefixBytes + header_bytes + data_bytes + 4;
  if (file_bytes != expected) {
    return reject(why_not, (file_bytes < expected ? "truncated (" : "has trailing bytes (") +
                               std::to_string(file_bytes) + " bytes, expected " +
                               std::to_string(expected) + ")");
  }
  auto read_tensor = [&](const TensorSpec& spec, torch::Tensor* t) {
    *t = torch::empty(spec.sizes, torch::TensorOptions().dtype(spec.dtype));
    return read(t->data_ptr(), spec.nbytes);
  };
  if (!read_tensor(*image_spec, &c.image) ||
      (regions_spec && !read_tensor(*regions_spec, &c.regions))) {
    return reject(why_not, "truncated data");
  }
  const auto computed = static_cast<uint32_t>(crc);
  uint32_t stored = 0;
  in.read(reinterpret_cast<char*>(&stored), sizeof(stored));
  if (!in) return reject(why_not, "truncated checksum");
  if (stored != computed) return reject(why_not, "corrupt (checksum mismatch)");
  return c;
}

CaseCache::CaseCache(std::string dir, WarningSink warn)
    : dir_(std::move(dir)), warn_(std::move(warn)) {
  if (!warn_) {
    warn_ = [](const std::string& line) { std::cerr << line << '\n'; };
  }
}

std::string CaseCache::path_for(const std::string& id) const {
  std::string name = id;
  for (char& ch : name) {
    const bool safe =
        std::isalnum(static_cast<unsigned char>(ch)) || ch == '-' || ch == '_' || ch == '.';
    if (!safe) ch = '_';
  }
  // Distinct ids that sanitise to the same name get distinct files.
  if (name != id || name.empty() || name[0] == '.') {
    const uLong h = crc_update(crc32(0L, Z_NULL, 0), id.data(), id.size());
    char suffix[16];
    std::snprintf(suffix, sizeof(suffix), "-%08lx", static_cast<unsigned long>(h));
    name += suffix;
  }
  return (fs::path(dir_) / (name + ".rvcase")).string();
}

bool CaseCache::is_cache_file(const std::string& name) {
  const std::string ext = ".rvcase";
  return name.size() > ext.size() && name.compare(name.size() - ext.size(), ext.size(), ext) == 0;
}

PreprocessedCase CaseCache::get_or_build(const std::string& id, const std::string& key,
                                         const std::function<PreprocessedCase()>& build) const {
  const std::string path = path_for(id);
  std::string why_not;
  if (fs::exists(path)) {
    if (auto cached = load_cached_case(path, key, &why_not)) {
      if (cached->id == id) return std::move(*cached);
      why_not = "holds case '" + cached->id + "', expected '" + id + "'";
    }
    warn_("revunet: warning: cache file " + path + " is " + why_not + "; rebuilding it");
  }
  PreprocessedCase built = build();
  TORCH_CHECK(built.id == id, "CaseCache: the builder for '", id, "' returned case '", built.id,
              "'");
  try {
    save_cached_case(path, built, key);
  } catch (const Error& e) {
    // A cache that cannot be written costs time, not correctness.
    warn_(std::string("revunet: warning: cannot write the case cache (") + e.what() + ")");
  }
  return built;
}

}  // namespace revunet::data
