#include "common/obs/log.h"

#include <chrono>
#include <ctime>
#include <nlohmann/json.hpp>

namespace seedhop::obs {

namespace {
const char* LevelName(LogLevel level) {
  switch (level) {
    case LogLevel::kDebug:
      return "debug";
    case LogLevel::kInfo:
      return "info";
    case LogLevel::kWarn:
      return "warn";
    case LogLevel::kError:
      return "error";
  }
  return "info";
}

std::string NowRfc3339() {
  auto now = std::chrono::system_clock::now();
  auto seconds = std::chrono::system_clock::to_time_t(now);
  auto millis =
      std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count() % 1000;
  std::tm utc{};
  gmtime_r(&seconds, &utc);
  char buffer[40];
  size_t n = std::strftime(buffer, sizeof buffer, "%Y-%m-%dT%H:%M:%S", &utc);
  std::snprintf(buffer + n, sizeof buffer - n, ".%03dZ", static_cast<int>(millis));
  return buffer;
}
}  // namespace

bool ParseLogLevel(std::string_view text, LogLevel* level) {
  for (LogLevel candidate :
       {LogLevel::kDebug, LogLevel::kInfo, LogLevel::kWarn, LogLevel::kError}) {
    if (text == LevelName(candidate)) {
      *level = candidate;
      return true;
    }
  }
  return false;
}

Logger::Logger(std::string name, LogLevel level, FILE* out)
    : name_(std::move(name)), level_(level), out_(out) {}

Logger Logger::Child(std::string_view child) const {
  return Logger(name_ + "." + std::string(child), level_, out_);
}

void Logger::Log(LogLevel level, std::string_view msg, std::initializer_list<Field> fields) const {
  if (!Enabled(level))
    return;
  nlohmann::ordered_json line;
  line["ts"] = NowRfc3339();
  line["level"] = LevelName(level);
  line["logger"] = name_;
  line["msg"] = std::string(msg);
  for (const auto& [key, value] : fields)
    line[std::string(key)] = value;
  std::string text =
      line.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace) + "\n";
  // One fwrite per line keeps concurrent lines whole (stdio locks the stream per call).
  std::fwrite(text.data(), 1, text.size(), out_);
  std::fflush(out_);
}

}  // namespace seedhop::obs
