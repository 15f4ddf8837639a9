#include "revunet/core/atomic_file.h"

#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>

#include <filesystem>
#include <fstream>
#include <limits>
#include <nlohmann/json.hpp>
#include <thread>

#include "revunet/core/error.h"

namespace revunet::core {

std::string temporary_path_for(const std::string& path) {
  return path + ".tmp." + std::to_string(::getpid()) + "." +
         std::to_string(std::hash<std::thread::id>{}(std::this_thread::get_id()));
}

void write_via_temporary(const std::string& path,
                         const std::function<void(const std::string& temporary)>& write) {
  namespace fs = std::filesystem;
  const std::string tmp = temporary_path_for(path);
  std::error_code ec;
  try {
    write(tmp);
  } catch (...) {
    fs::remove(tmp, ec);
    throw;
  }
  fs::rename(tmp, path, ec);
  if (ec) {
    const std::string why = ec.message();
    fs::remove(tmp, ec);
    fail(path, "cannot rename the temporary file into place (" + why + ")");
  }
}

void write_atomically(const std::string& path, const std::function<void(std::ostream&)>& write) {
  namespace fs = std::filesystem;
  const fs::path target(path);
  std::error_code ec;
  if (target.has_parent_path()) {
    fs::create_directories(target.parent_path(), ec);
    if (ec) fail(path, "cannot create its folder (" + ec.message() + ")");
  }
  write_via_temporary(path, [&](const std::string& tmp) {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out) fail(path, "cannot open a temporary file beside it for writing");
    write(out);
    out.close();
    if (!out) fail(path, "write failed (disk full?); the previous file, if any, is untouched");
  });
}

namespace {

// "<digits>" as a number; false for anything else (empty, signs, other characters, overflow).
bool parse_digits(const std::string& text, unsigned long long* value) {
  if (text.empty() || text.size() > 19) return false;
  for (char c : text) {
    if (c < '0' || c > '9') return false;
  }
  *value = std::strtoull(text.c_str(), nullptr, 10);
  return true;
}

// kill(pid, 0) asks whether the process exists without signalling it; EPERM means it exists but
// belongs to someone else.
bool process_alive(unsigned long long pid) {
  if (pid == 0 || pid > static_cast<unsigned long long>(std::numeric_limits<pid_t>::max())) {
    return false;
  }
  return ::kill(static_cast<pid_t>(pid), 0) == 0 || errno == EPERM;
}

}  // namespace

int remove_stale_temporaries(const std::string& folder,
                             const std::function<bool(const std::string& name)>& ours) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (!fs::is_directory(folder, ec)) return 0;
  int removed = 0;
  for (fs::directory_iterator it(folder, ec), end; !ec && it != end; it.increment(ec)) {
    if (!it->is_regular_file(ec)) continue;
    // "<name>.tmp.<pid>.<tid>": split from the right, so a name may hold dots and ".tmp." itself.
    const std::string file = it->path().filename().string();
    const size_t last = file.rfind('.');
    if (last == std::string::npos || last == 0) continue;
    const size_t middle = file.rfind('.', last - 1);
    if (middle == std::string::npos || middle < 4) continue;
    if (file.compare(middle - 4, 5, ".tmp.") != 0) continue;
    unsigned long long pid = 0, tid = 0;
    if (!parse_digits(file.substr(middle + 1, last - middle - 1), &pid) ||
        !parse_digits(file.substr(last + 1), &tid)) {
      continue;
    }
    const std::string name = file.substr(0, middle - 4);
    if (name.empty() || !ours(name) || process_alive(pid)) continue;
    std::error_code remove_ec;
    if (fs::remove(it->path(), remove_ec)) ++removed;
  }
  return removed;
}

void write_file_atomically(const std::string& path, const std::string& contents) {
  write_atomically(path, [&](std::ostream& out) { out << contents; });
}

void write_json_atomically(const std::string& path, const nlohmann::json& value) {
  write_file_atomically(path, value.dump(2) + "\n");
}

}  // namespace revunet::core
