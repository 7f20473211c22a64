// Whole-file reads for configuration, certificates and manifests.
#pragma once

#include <string>

#include "common/result.h"

namespace seedhop {

// Returns the bytes of the file at `path`. kNotFound (with the system's reason) when it cannot be
// opened, kInternal when reading fails midway.
Result<std::string> ReadFile(const std::string& path);

}  // namespace seedhop
