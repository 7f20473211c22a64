#include "test/emulator/selectors.h"

#include <algorithm>

namespace seedhop::emulator {

namespace {

std::string_view Trim(std::string_view text) {
  size_t begin = text.find_first_not_of(" \t");
  if (begin == std::string_view::npos)
    return {};
  size_t end = text.find_last_not_of(" \t");
  return text.substr(begin, end - begin + 1);
}

// Splits on commas that are not inside parentheses.
std::vector<std::string_view> SplitTopLevel(std::string_view text) {
  std::vector<std::string_view> parts;
  int depth = 0;
  size_t start = 0;
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '(')
      ++depth;
    if (text[i] == ')')
      --depth;
    if (text[i] == ',' && depth == 0) {
      parts.push_back(text.substr(start, i - start));
      start = i + 1;
    }
  }
  parts.push_back(text.substr(start));
  return parts;
}

bool ValidKey(std::string_view key) {
  if (key.empty())
    return false;
  return std::all_of(key.begin(), key.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.' ||
           c == '/';
  });
}

Error BadSelector(std::string_view part, const std::string& why) {
  return Error(ErrorCode::kBadRequest,
               "unable to parse requirement: " + std::string(part) + ": " + why);
}

Result<LabelRequirement> ParseSetRequirement(std::string_view part, size_t at, size_t op_len,
                                             LabelRequirement::Op op) {
  LabelRequirement requirement;
  requirement.key = std::string(Trim(part.substr(0, at)));
  requirement.op = op;
  std::string_view rest = Trim(part.substr(at + op_len));
  if (rest.size() < 2 || rest.front() != '(' || rest.back() != ')') {
    return BadSelector(part, "expected a parenthesised list of values");
  }
  rest = rest.substr(1, rest.size() - 2);
  size_t start = 0;
  while (start <= rest.size()) {
    size_t comma = rest.find(',', start);
    std::string_view value =
        Trim(rest.substr(start, comma == std::string_view::npos ? rest.npos : comma - start));
    if (!value.empty())
      requirement.values.emplace_back(value);
    if (comma == std::string_view::npos)
      break;
    start = comma + 1;
  }
  if (requirement.values.empty())
    return BadSelector(part, "for 'in', 'notin' operators, values set can't be empty");
  return requirement;
}

Result<LabelRequirement> ParseRequirement(std::string_view part) {
  LabelRequirement requirement;
  for (auto [word, op] : {std::pair{" notin ", LabelRequirement::Op::kNotIn},
                          std::pair{" in ", LabelRequirement::Op::kIn}}) {
    size_t at = part.find(word);
    if (at != std::string_view::npos) {
      auto parsed = ParseSetRequirement(part, at, std::string_view(word).size(), op);
      if (!parsed.ok())
        return parsed;
      if (!ValidKey(parsed->key))
        return BadSelector(part, "invalid label key");
      return parsed;
    }
  }
  size_t at;
  size_t op_len = 1;
  if ((at = part.find("!=")) != std::string_view::npos) {
    requirement.op = LabelRequirement::Op::kNotEquals;
    op_len = 2;
  } else if ((at = part.find("==")) != std::string_view::npos) {
    requirement.op = LabelRequirement::Op::kEquals;
    op_len = 2;
  } else if ((at = part.find('=')) != std::string_view::npos) {
    requirement.op = LabelRequirement::Op::kEquals;
  } else if (!part.empty() && part.front() == '!') {
    requirement.op = LabelRequirement::Op::kDoesNotExist;
    requirement.key = std::string(Trim(part.substr(1)));
    if (!ValidKey(requirement.key))
      return BadSelector(part, "invalid label key");
    return requirement;
  } else {
    requirement.op = LabelRequirement::Op::kExists;
    requirement.key = std::string(part);
    if (!ValidKey(requirement.key))
      return BadSelector(part, "invalid label key");
    return requirement;
  }
  requirement.key = std::string(Trim(part.substr(0, at)));
  if (!ValidKey(requirement.key))
    return BadSelector(part, "invalid label key");
  std::string value(Trim(part.substr(at + op_len)));
  if (value.find_first_of("=!() ") != std::string::npos) {
    return BadSelector(part, "invalid label value");
  }
  requirement.values.push_back(std::move(value));
  return requirement;
}

}  // namespace

Result<LabelSelector> LabelSelector::Parse(std::string_view text) {
  LabelSelector selector;
  if (Trim(text).empty())
    return selector;
  for (std::string_view raw : SplitTopLevel(text)) {
    std::string_view part = Trim(raw);
    if (part.empty())
      return BadSelector(raw, "empty requirement");
    auto requirement = ParseRequirement(part);
    if (!requirement.ok())
      return requirement.error();
    selector.requirements_.push_back(std::move(requirement).value());
  }
  return selector;
}

Result<LabelSelector> LabelSelector::FromJson(const nlohmann::json& json) {
  LabelSelector selector;
  if (json.is_null())
    return selector;
  if (!json.is_object())
    return Error(ErrorCode::kInvalid, "selector: must be an object");
  if (auto labels = json.find("matchLabels"); labels != json.end() && !labels->is_null()) {
    if (!labels->is_object())
      return Error(ErrorCode::kInvalid, "matchLabels: must be an object");
    for (const auto& [key, value] : labels->items()) {
      if (!value.is_string()) {
        return Error(ErrorCode::kInvalid, "matchLabels." + key + ": must be a string");
      }
      selector.requirements_.push_back(
          {key, LabelRequirement::Op::kEquals, {value.get<std::string>()}});
    }
  }
  if (auto exprs = json.find("matchExpressions"); exprs != json.end() && !exprs->is_null()) {
    if (!exprs->is_array())
      return Error(ErrorCode::kInvalid, "matchExpressions: must be a list");
    for (const auto& expr : *exprs) {
      LabelRequirement requirement;
      requirement.key = expr.value("key", "");
      std::string op = expr.value("operator", "");
      if (op == "In") {
        requirement.op = LabelRequirement::Op::kIn;
      } else if (op == "NotIn") {
        requirement.op = LabelRequirement::Op::kNotIn;
      } else if (op == "Exists") {
        requirement.op = LabelRequirement::Op::kExists;
      } else if (op == "DoesNotExist") {
        requirement.op = LabelRequirement::Op::kDoesNotExist;
      } else {
        return Error(ErrorCode::kInvalid,
                     "matchExpressions: \"" + op + "\" is not a valid label selector operator");
      }
      if (auto values = expr.find("values"); values != expr.end() && values->is_array()) {
        for (const auto& value : *values)
          requirement.values.push_back(value.get<std::string>());
      }
      bool set_op = requirement.op == LabelRequirement::Op::kIn ||
                    requirement.op == LabelRequirement::Op::kNotIn;
      if (set_op == requirement.values.empty()) {
        return Error(
            ErrorCode::kInvalid,
            "matchExpressions " + requirement.key + ": values must be " +
                (set_op ? "non-empty for In and NotIn" : "empty for Exists and DoesNotExist"));
      }
      selector.requirements_.push_back(std::move(requirement));
    }
  }
  return selector;
}

bool LabelSelector::Matches(const nlohmann::json& labels) const {
  for (const auto& requirement : requirements_) {
    const std::string* value = nullptr;
    if (labels.is_object()) {
      auto it = labels.find(requirement.key);
      if (it != labels.end() && it->is_string())
        value = it->get_ptr<const std::string*>();
    }
    auto in_values = [&] {
      return value && std::find(requirement.values.begin(), requirement.values.end(), *value) !=
                          requirement.values.end();
    };
    bool ok = false;
    switch (requirement.op) {
      case LabelRequirement::Op::kEquals:
      case LabelRequirement::Op::kIn:
        ok = in_values();
        break;
      case LabelRequirement::Op::kNotEquals:
      case LabelRequirement::Op::kNotIn:
        ok = !in_values();
        break;
      case LabelRequirement::Op::kExists:
        ok = value != nullptr;
        break;
      case LabelRequirement::Op::kDoesNotExist:
        ok = value == nullptr;
        break;
    }
    if (!ok)
      return false;
  }
  return true;
}

Result<FieldSelector> FieldSelector::Parse(std::string_view text) {
  FieldSelector selector;
  if (Trim(text).empty())
    return selector;
  for (std::string_view raw : SplitTopLevel(text)) {
    std::string_view part = Trim(raw);
    size_t at;
    size_t op_len = 1;
    bool negated = false;
    if ((at = part.find("!=")) != std::string_view::npos) {
      negated = true;
      op_len = 2;
    } else if ((at = part.find("==")) != std::string_view::npos) {
      op_len = 2;
    } else if ((at = part.find('=')) == std::string_view::npos) {
      return Error(ErrorCode::kBadRequest, "invalid selector: '" + std::string(part) +
                                               "'; can't understand '" + std::string(part) + "'");
    }
    std::string field(Trim(part.substr(0, at)));
    if (field != "metadata.name" && field != "metadata.namespace") {
      return Error(ErrorCode::kBadRequest, "field label not supported: " + field);
    }
    selector.terms_.push_back(
        {field == "metadata.name", negated, std::string(Trim(part.substr(at + op_len)))});
  }
  return selector;
}

bool FieldSelector::Matches(const std::string& namespace_name, const std::string& name) const {
  for (const auto& term : terms_) {
    bool equal = (term.is_name ? name : namespace_name) == term.value;
    if (equal == term.negated)
      return false;
  }
  return true;
}

std::string FieldSelector::PinnedName() const {
  for (const auto& term : terms_) {
    if (term.is_name && !term.negated)
      return term.value;
  }
  return {};
}

}  // namespace seedhop::emulator
