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

void write_file_atomically(const std::string& path, const std::string& contents);

// The temporary file the calling thread writes `path` through (tests block it to force a failure).
std::string temporary_path_for(const std::string& path);

// Pretty-printed JSON with a final newline.
void write_json_atomically(const std::string& path, const nlohmann::json& value);

}  // namespace revunet::core
