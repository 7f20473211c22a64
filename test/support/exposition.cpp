#include "test/support/exposition.h"

#include <cstdlib>
#include <string>

namespace seedhop::testing {

std::optional<double> SampleValue(std::string_view exposition, std::string_view series) {
  while (!exposition.empty()) {
    const size_t end = exposition.find('\n');
    std::string_view line = exposition.substr(0, end);
    exposition = end == std::string_view::npos ? std::string_view() : exposition.substr(end + 1);
    if (line.size() <= series.size() || !line.starts_with(series) || line[series.size()] != ' ')
      continue;
    const std::string value(line.substr(series.size() + 1));
    char* parsed_to = nullptr;
    const double number = std::strtod(value.c_str(), &parsed_to);
    if (parsed_to == value.c_str())
      return std::nullopt;
    return number;
  }
  return std::nullopt;
}

}  // namespace seedhop::testing
