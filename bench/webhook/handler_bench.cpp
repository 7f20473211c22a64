// The /mutate handler alone, in a loop on one thread, without sockets: CPU time per call of
// HandleMutate (decode, plan lookup, decide, encode, metrics) and of each of its stages, for the
// review file given (bench/webhook/run.sh uses the shared reference etcd StatefulSet UPDATE). The
// plan is the one run.sh stores, so every call really patches.
//   seedhop-bench-webhook-handler REVIEW_JSON [CALLS]
#include <sys/resource.h>

#include <cstdio>
#include <cstdlib>
#include <functional>
#include <string>

#include "common/io/file.h"
#include "common/obs/metrics.h"
#include "webhook/handler.h"

namespace {

using namespace seedhop;

double CpuSeconds() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return static_cast<double>(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) +
         static_cast<double>(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6;
}

// Prints the CPU time per call of `body`, run `calls` times.
void Measure(const char* what, int calls, const std::function<void()>& body) {
  double started = CpuSeconds();
  for (int i = 0; i < calls; ++i)
    body();
  std::printf("%-40s %8.2f us/call\n", what, (CpuSeconds() - started) * 1e6 / calls);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s REVIEW_JSON [CALLS]\n", argv[0]);
    return 2;
  }
  auto review = ReadFile(argv[1]);
  if (!review) {
    std::fprintf(stderr, "%s\n", review.error().message().c_str());
    return 2;
  }
  int calls = argc > 2 ? std::atoi(argv[2]) : 20000;

  auto decoded = webhook::DecodeAdmissionReview(*review, webhook::kEtcdObjectFilter);
  if (!decoded) {
    std::fprintf(stderr, "not a review: %s\n", decoded.error().message().c_str());
    return 2;
  }
  plan::EtcdPlan plan;
  plan.namespace_name = decoded->namespace_name;
  plan.statefulset = webhook::ObjectName(*decoded);
  plan.replicas = 2;
  plan.ordinals_start = 3;
  plan.remote_members = {{0, "10.1.0.10"}, {1, "10.1.0.11"}, {2, "10.1.0.12"}};
  webhook::PlanLookup lookup = [&plan](const std::string&, const std::string&) {
    return std::optional<plan::EtcdPlan>(plan);
  };
  obs::Metrics metrics;
  webhook::WebhookMetrics webhook_metrics(metrics);
  http::Request request;
  request.method = "POST";
  request.path = "/mutate";
  request.headers["content-type"] = "application/json";
  request.body = *review;

  auto response = webhook::HandleMutate(request, lookup, &webhook_metrics);
  if (response.status != 200 || response.body.find("\"patch\"") == std::string::npos) {
    std::fprintf(stderr, "the review was not patched: %d %s\n", response.status,
                 response.body.c_str());
    return 1;
  }
  std::printf("%d calls, %zu-byte review, %zu-byte answer\n", calls, review->size(),
              response.body.size());
  Measure("decode", calls,
          [&] { (void)webhook::DecodeAdmissionReview(request.body, webhook::kEtcdObjectFilter); });
  Measure("decide", calls, [&] { (void)webhook::DecideEtcdMutation(*decoded, &plan); });
  Measure("decide + encode", calls, [&] {
    (void)webhook::EncodeAdmissionReview(
        webhook::ToAdmissionResponse(*decoded, webhook::DecideEtcdMutation(*decoded, &plan)),
        decoded->version);
  });
  Measure("HandleMutate (all of it)", calls,
          [&] { (void)webhook::HandleMutate(request, lookup, &webhook_metrics); });
  return 0;
}
