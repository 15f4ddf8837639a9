#include "revunet/core/error.h"

namespace revunet {

void fail(const std::string& where, const std::string& problem) {
  throw Error(where.empty() ? problem : where + ": " + problem);
}

}  // namespace revunet
