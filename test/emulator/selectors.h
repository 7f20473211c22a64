// Label and field selectors as kube-apiserver evaluates them: the string form of list/watch
// queries (k8s.io/apimachinery/pkg/labels/selector.go) and the metav1.LabelSelector JSON form of
// webhook namespaceSelector/objectSelector (k8s.io/apimachinery/pkg/apis/meta/v1/helpers.go).
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"

namespace seedhop::emulator {

// One requirement: `key op values`.
struct LabelRequirement {
  enum class Op { kEquals, kNotEquals, kIn, kNotIn, kExists, kDoesNotExist };
  std::string key;
  Op op = Op::kExists;
  std::vector<std::string> values;
};

// A conjunction of requirements. The empty selector matches everything.
class LabelSelector {
 public:
  LabelSelector() = default;
  // Parses "a=b,c==d,e!=f,g in (h,i),j notin (k),l,!m". Errors (kBadRequest) name the bad part.
  static Result<LabelSelector> Parse(std::string_view text);
  // Converts {matchLabels, matchExpressions[{key, operator In|NotIn|Exists|DoesNotExist,
  // values}]}. Null or {} matches everything. Errors (kInvalid) name the bad field.
  static Result<LabelSelector> FromJson(const nlohmann::json& selector);

  // True when `labels` (a JSON object of strings, or null for none) satisfies every requirement.
  bool Matches(const nlohmann::json& labels) const;
  bool empty() const { return requirements_.empty(); }
  const std::vector<LabelRequirement>& requirements() const { return requirements_; }

 private:
  std::vector<LabelRequirement> requirements_;
};

// The field selectors every resource supports: metadata.name and metadata.namespace with
// =, == and !=. Empty matches everything.
class FieldSelector {
 public:
  FieldSelector() = default;
  // Errors (kBadRequest) for other fields: "field label not supported: spec.x".
  static Result<FieldSelector> Parse(std::string_view text);
  bool Matches(const std::string& namespace_name, const std::string& name) const;
  // The metadata.name value when the selector pins one (`metadata.name=x`), else "".
  std::string PinnedName() const;

 private:
  struct Term {
    bool is_name;
    bool negated;
    std::string value;
  };
  std::vector<Term> terms_;
};

}  // namespace seedhop::emulator
