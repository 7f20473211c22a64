#include "auditor/cli.h"

#include <charconv>

namespace seedhop::auditor {
namespace {

Error UsageError(const std::string& message) {
  return Error(ErrorCode::kInvalid, message);
}

}  // namespace

const char* Usage() {
  return R"(seedhop-auditor: where does every shoot control-plane controller keep its leader-election lock?

Usage:
  seedhop-auditor [flags]          audit once, print the report, exit 0 safe / 1 blockers / 2 errors
  seedhop-auditor serve [flags]    re-audit every --interval, serve /metrics, /healthz, /readyz
  seedhop-auditor rules            print the built-in rules (YAML)

Flags:
  -o, --output FORMAT          table (default), json, yaml, markdown
  -n, --namespace NAME         audit only this namespace
      --namespace-pattern RE   re2 pattern for shoot namespaces (default from the rules: shoot--.*--.*)
      --rules FILE             rules layered over the built-in ones (see docs/auditor.md)
      --kubeconfig PATH        default: $KUBECONFIG, ~/.kube/config, or in-cluster inside a pod
      --context NAME           kubeconfig context (default: current-context)
      --interval DURATION      serve: time between audits, e.g. 30s, 10m, 1h (default 10m)
      --listen [HOST]:PORT     serve: metrics address (default :8080)
      --log-level LEVEL        debug, info, warn, error (default info)
  -h, --help
)";
}

std::optional<std::chrono::seconds> ParseInterval(std::string_view text) {
  if (text.size() < 2) {
    return std::nullopt;
  }
  int64_t n = 0;
  const char* end = text.data() + text.size() - 1;
  auto [ptr, ec] = std::from_chars(text.data(), end, n);
  if (ec != std::errc() || ptr != end || n <= 0) {
    return std::nullopt;
  }
  switch (text.back()) {
    case 's':
      return std::chrono::seconds(n);
    case 'm':
      return std::chrono::minutes(n);
    case 'h':
      return std::chrono::hours(n);
    default:
      return std::nullopt;
  }
}

Result<CliOptions> ParseCommandLine(const std::vector<std::string>& args) {
  CliOptions options;
  std::size_t i = 0;
  if (i < args.size() && !args[i].starts_with("-")) {
    if (args[i] == "serve") {
      options.command = Command::kServe;
    } else if (args[i] == "rules") {
      options.command = Command::kRules;
    } else if (args[i] == "audit") {
      options.command = Command::kAudit;
    } else {
      return UsageError("unknown command \"" + args[i] + "\"");
    }
    ++i;
  }
  for (; i < args.size(); ++i) {
    const std::string& arg = args[i];
    if (arg == "-h" || arg == "--help") {
      options.command = Command::kHelp;
      return options;
    }
    std::string name;
    std::optional<std::string> value;
    if (arg.starts_with("--")) {
      const auto eq = arg.find('=');
      name = arg.substr(2, eq == std::string::npos ? std::string::npos : eq - 2);
      if (eq != std::string::npos) {
        value = arg.substr(eq + 1);
      }
    } else if (arg.size() >= 2 && arg[0] == '-' && (arg[1] == 'o' || arg[1] == 'n')) {
      name = arg[1] == 'o' ? "output" : "namespace";
      if (arg.size() > 2) {
        value = arg.substr(2);
      }
    } else {
      return UsageError("unexpected argument \"" + arg + "\"");
    }
    if (!value) {
      if (i + 1 >= args.size()) {
        return UsageError("flag --" + name + " needs a value");
      }
      value = args[++i];
    }
    if (name == "output") {
      auto format = ParseFormat(*value);
      if (!format.ok()) {
        return UsageError("flag --output: " + format.error().message());
      }
      options.format = *format;
    } else if (name == "namespace") {
      options.single_namespace = *value;
    } else if (name == "namespace-pattern") {
      options.namespace_pattern = *value;
    } else if (name == "rules") {
      options.rules_file = *value;
    } else if (name == "kubeconfig") {
      options.kubeconfig = *value;
    } else if (name == "context") {
      options.context = *value;
    } else if (name == "log-level") {
      options.log_level = *value;
    } else if (name == "interval") {
      auto interval = ParseInterval(*value);
      if (!interval) {
        return UsageError("flag --interval: \"" + *value +
                          "\" is not a duration like 30s, 10m, 1h");
      }
      options.interval = *interval;
    } else if (name == "listen") {
      const auto colon = value->rfind(':');
      unsigned port = 0;
      const char* begin = value->data() + (colon == std::string::npos ? 0 : colon + 1);
      auto [ptr, ec] = std::from_chars(begin, value->data() + value->size(), port);
      if (colon == std::string::npos || ec != std::errc() || ptr != value->data() + value->size() ||
          port == 0 || port > 65535) {
        return UsageError("flag --listen: \"" + *value + "\" is not [host]:port");
      }
      options.listen_port = static_cast<uint16_t>(port);
      if (colon > 0) {
        options.listen_address = value->substr(0, colon);
      }
    } else {
      return UsageError("unknown flag --" + name);
    }
  }
  if (!options.single_namespace.empty() && !options.namespace_pattern.empty()) {
    return UsageError("flags --namespace and --namespace-pattern exclude each other");
  }
  return options;
}

}  // namespace seedhop::auditor
