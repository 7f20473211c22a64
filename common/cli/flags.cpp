#include "common/cli/flags.h"

#include <cctype>
#include <charconv>

namespace seedhop::cli {

void FlagSet::String(std::string name, std::string default_value, std::string help) {
  flags_[std::move(name)] = {default_value, default_value, std::move(help), false};
}

void FlagSet::Bool(std::string name, bool default_value, std::string help) {
  std::string text = default_value ? "true" : "false";
  flags_[std::move(name)] = {text, text, std::move(help), true};
}

Status FlagSet::Parse(const std::vector<std::string>& args) {
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& arg = args[i];
    if (arg == "--") {
      positional_.insert(positional_.end(), args.begin() + static_cast<long>(i) + 1, args.end());
      break;
    }
    // One-letter flags also take kubectl's short form: "-n NAME".
    bool short_form =
        arg.size() == 2 && arg[0] == '-' && std::isalpha(static_cast<unsigned char>(arg[1]));
    if (!short_form && (arg.size() < 3 || arg.compare(0, 2, "--") != 0)) {
      positional_.push_back(arg);
      continue;
    }
    std::string body = arg.substr(short_form ? 1 : 2);
    size_t equals = body.find('=');
    std::string name = body.substr(0, equals);
    auto it = flags_.find(name);
    if (it == flags_.end())
      return Error(ErrorCode::kInvalid, "unknown flag --" + name);
    Flag& flag = it->second;
    if (equals != std::string::npos) {
      flag.value = body.substr(equals + 1);
    } else if (flag.is_bool) {
      flag.value = "true";
    } else if (i + 1 < args.size()) {
      flag.value = args[++i];
    } else {
      return Error(ErrorCode::kInvalid, "flag --" + name + " needs a value");
    }
    if (flag.is_bool && flag.value != "true" && flag.value != "false") {
      return Error(ErrorCode::kInvalid,
                   "flag --" + name + ": want true or false, got \"" + flag.value + "\"");
    }
  }
  return OkStatus();
}

std::string FlagSet::GetString(std::string_view name) const {
  auto it = flags_.find(name);
  return it == flags_.end() ? std::string() : it->second.value;
}

bool FlagSet::GetBool(std::string_view name) const {
  return GetString(name) == "true";
}

Result<int64_t> FlagSet::GetInt(std::string_view name, int64_t min, int64_t max) const {
  std::string text = GetString(name);
  int64_t value = 0;
  auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc() || end != text.data() + text.size() || value < min || value > max) {
    return Error(ErrorCode::kInvalid, "flag --" + std::string(name) + ": want an integer in [" +
                                          std::to_string(min) + ", " + std::to_string(max) +
                                          "], got \"" + text + "\"");
  }
  return value;
}

Result<std::chrono::milliseconds> FlagSet::GetDuration(std::string_view name) const {
  std::string text = GetString(name);
  auto duration = ParseDuration(text);
  if (!duration) {
    return Error(ErrorCode::kInvalid,
                 "flag --" + std::string(name) +
                     ": want a duration such as 500ms, 30s, 10m or 1h, got \"" + text + "\"");
  }
  return *duration;
}

std::string FlagSet::Usage() const {
  std::string out;
  for (const auto& [name, flag] : flags_) {
    out += (name.size() == 1 ? "  -" : "  --") + name;
    if (!flag.is_bool || flag.default_value != "false") {
      out += " (default \"" + flag.default_value + "\")";
    }
    out += "\n      " + flag.help + "\n";
  }
  return out;
}

std::optional<std::chrono::milliseconds> ParseDuration(std::string_view text) {
  int64_t number = 0;
  auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), number);
  if (error != std::errc() || number < 0)
    return std::nullopt;
  std::string_view unit(end, static_cast<size_t>(text.data() + text.size() - end));
  if (unit == "ms")
    return std::chrono::milliseconds(number);
  if (unit == "s")
    return std::chrono::seconds(number);
  if (unit == "m")
    return std::chrono::minutes(number);
  if (unit == "h")
    return std::chrono::hours(number);
  return std::nullopt;
}

}  // namespace seedhop::cli
