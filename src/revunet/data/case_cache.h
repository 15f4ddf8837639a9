// An on-disk cache of preprocessed cases, one file per case, so training decompresses and
// preprocesses each NIfTI case once rather than every epoch.
//
// File format (version 1, native byte order, checked by a tag on reading):
//   "RVUNCASE" | u32 version | u32 byte-order tag 0x01020304 | u64 header length | header |
//   tensor data (image, then regions if present) | u32 crc32 of everything before it
// The header holds the id, the caller's key (e.g. source sizes and mtimes), the crop box, the
// original shape, the spacing and each tensor's dtype and sizes. A file whose magic, version,
// sizes, checksum or key does not match is never trusted: the cache rebuilds it.
#pragma once

#include <functional>
#include <optional>
#include <string>

#include "revunet/data/preprocess.h"

namespace revunet::data {

// Writes `c` (CPU tensors) to `path` through a temporary file and a rename, so a reader never sees
// half a file. Throws revunet::Error naming the file when it cannot be written.
void save_cached_case(const std::string& path, const PreprocessedCase& c, const std::string& key);

// Reads a file written by save_cached_case. Returns nullopt, with the reason in `*why_not` (if
// given), when the file is missing, unreadable, truncated, corrupt, of another version, or was
// written with a different key.
std::optional<PreprocessedCase> load_cached_case(const std::string& path, const std::string& key,
                                                 std::string* why_not = nullptr);

class CaseCache {
 public:
  // Receives one line per cache file that was found but not usable.
  using WarningSink = std::function<void(const std::string&)>;

  // `dir` is created on first write. Warnings go to stderr unless a sink is given.
  explicit CaseCache(std::string dir, WarningSink warn = nullptr);

  // The cached case for `id` if its file is valid and was written with `key`; otherwise calls
  // `build`, writes the result and returns it. Safe to call from several threads for different
  // ids (and for the same id: both build, the last rename wins, both files are whole).
  PreprocessedCase get_or_build(const std::string& id, const std::string& key,
                                const std::function<PreprocessedCase()>& build) const;

  // The file that holds `id`: <dir>/<id with unsafe characters replaced>.rvcase
  std::string path_for(const std::string& id) const;

  const std::string& dir() const { return dir_; }

  // Whether `name` (a file name without folder) is one path_for gives: "<name>.rvcase".
  static bool is_cache_file(const std::string& name);

 private:
  std::string dir_;
  WarningSink warn_;
};

}  // namespace revunet::data
