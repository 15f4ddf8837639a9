#include "revunet/core/atomic_file.h"

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <thread>

#include "revunet/core/error.h"

namespace revunet::core {

std::string temporary_path_for(const std::string& path) {
  return path + ".tmp." + std::to_string(::getpid()) + "." +
         std::to_string(std::hash<std::thread::id>{}(std::this_thread::get_id()));
}

void write_atomically(const std::string& path, const std::function<void(std::ostream&)>& write) {
  namespace fs = std::filesystem;
  const fs::path target(path);
  std::error_code ec;
  if (target.has_parent_path()) {
    fs::create_directories(target.parent_path(), ec);
    if (ec) fail(path, "cannot create its folder (" + ec.message() + ")");
  }
  const std::string tmp = temporary_path_for(path);
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out) fail(path, "cannot open a temporary file beside it for writing");
    try {
      write(out);
    } catch (...) {
      out.close();
      fs::remove(tmp, ec);
      throw;
    }
    out.close();
    if (!out) {
      fs::remove(tmp, ec);
      fail(path, "write failed (disk full?); the previous file, if any, is untouched");
    }
  }
  fs::rename(tmp, target, ec);
  if (ec) {
    const std::string why = ec.message();
    fs::remove(tmp, ec);
    fail(path, "cannot rename the temporary file into place (" + why + ")");
  }
}

void write_file_atomically(const std::string& path, const std::string& contents) {
  write_atomically(path, [&](std::ostream& out) { out << contents; });
}

void write_json_atomically(const std::string& path, const nlohmann::json& value) {
  write_file_atomically(path, value.dump(2) + "\n");
}

}  // namespace revunet::core
