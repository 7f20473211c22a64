#include "common/io/file.h"

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

namespace seedhop {

Result<std::string> ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in)
    return Error(ErrorCode::kNotFound, "cannot read " + path + ": " + std::strerror(errno));
  std::ostringstream content;
  content << in.rdbuf();
  if (in.bad())
    return Error(ErrorCode::kInternal, "cannot read " + path);
  return content.str();
}

}  // namespace seedhop
