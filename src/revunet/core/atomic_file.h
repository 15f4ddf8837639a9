// Files a reader never sees half-written: the contents go to a temporary file beside the target
// (named per process and thread, so concurrent writers never share one), which is then renamed
// over it. On failure the temporary is removed, the previous file is untouched, and the error
// names the target.
#pragma once

#include <functional>
#include <iosfwd>
#include <nlohmann/json_fwd.hpp>
#include <string>

namespace revunet::core {

// `write` fills the stream; creates missing parent folders.
void write_atomically(const std::string& path, const std::function<void(std::ostream&)>& write);

// The same path for writers that need a file name (nifti_clib's znz streams): `write` writes the
// temporary file it is given and checks it (reading it back), throwing on any failure; the
// temporary is then renamed over `path`. On failure it is removed and `path` is untouched. Does
// not create folders.
void write_via_temporary(const std::string& path,
                         const std::function<void(const std::string& temporary)>& write);

void write_file_atomically(const std::string& path, const std::string& contents);

// The temporary file the calling thread writes `path` through (tests block it to force a failure).
std::string temporary_path_for(const std::string& path);

// Removes the temporaries ("<name>.tmp.<pid>.<tid>", as temporary_path_for names them) that
// processes which are no longer running left in `folder` (not its sub-folders) when they were
// killed mid-write, for the target names `ours` accepts. A temporary of a live process (this one
// included) is kept. Returns how many were removed; a missing folder removes none.
int remove_stale_temporaries(const std::string& folder,
                             const std::function<bool(const std::string& name)>& ours);

// Pretty-printed JSON with a final newline.
void write_json_atomically(const std::string& path, const nlohmann::json& value);

}  // namespace revunet::core
