#!/usr/bin/env bash
# The main job until the local lab lands: an emulated seed API server with seedhop-webhook
# registered through the shipped MutatingWebhookConfiguration. It writes an etcd StatefulSet the
# way etcd-druid does, once without and once with an EtcdPlan, and shows what was stored. With a
# terminal attached it then keeps both running so you can poke at them with kubectl.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
bash scripts/install-deps.sh
bash scripts/build.sh build/release --target seedhop-webhook --target seedhop-emulator >/dev/null

work=$(mktemp -d /tmp/seedhop-demo.XXXXXX)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT INT TERM

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
api_port=$(free_port)
webhook_port=$(free_port)
export KUBECONFIG=$work/kubeconfig

build/release/test/emulator/seedhop-emulator --port "$api_port" --kubeconfig-out "$KUBECONFIG" \
  2>"$work/emulator.log" &
pids+=($!)
for _ in $(seq 50); do [ -s "$KUBECONFIG" ] && break; sleep 0.1; done

# The webhook's serving certificate, signed by a throwaway CA that the registration trusts.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 -subj /CN=demo-ca \
  -keyout "$work/ca.key" -out "$work/ca.crt" 2>/dev/null
openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=seedhop-webhook \
  -keyout "$work/tls.key" -out "$work/tls.csr" 2>/dev/null
openssl x509 -req -in "$work/tls.csr" -CA "$work/ca.crt" -CAkey "$work/ca.key" -CAcreateserial \
  -days 1 -extfile <(printf 'subjectAltName=IP:127.0.0.1') -out "$work/tls.crt" 2>/dev/null

kubectl apply -f manifests/crds/etcdplans.yaml >/dev/null
build/release/webhook/seedhop-webhook --address 127.0.0.1 --port "$webhook_port" \
  --kubeconfig "$KUBECONFIG" --cert-file "$work/tls.crt" --key-file "$work/tls.key" \
  2>"$work/webhook.log" &
pids+=($!)
for _ in $(seq 50); do
  curl -sk "https://127.0.0.1:$webhook_port/readyz" >/dev/null 2>&1 && break
  sleep 0.1
done

ca_bundle=$(base64 -w0 <"$work/ca.crt")
# The shipped registration, pointed at this process instead of the in-cluster Service.
python3 - "$webhook_port" "$ca_bundle" manifests/webhook/mutatingwebhookconfiguration.yaml \
  >"$work/mwc.yaml" <<'PY'
import re, sys
port, bundle, path = sys.argv[1:4]
text = open(path).read()
service = re.compile(r"clientConfig:\n(\s+)service:\n(?:\1  .*\n)+")
print(service.sub(lambda m: "clientConfig:\n%surl: https://127.0.0.1:%s/mutate\n%scaBundle: %s\n"
                  % (m.group(1), port, m.group(1), bundle), text), end="")
PY
kubectl apply -f "$work/mwc.yaml" >/dev/null

ns=shoot--demo--live
sts=../shared/reference/gardener/etcd-main-sts.druid.synth.yaml
kubectl create namespace "$ns" >/dev/null
kubectl label namespace "$ns" seedhop.io/migrating=true >/dev/null
show() {
  kubectl -n "$ns" get statefulset etcd-main \
    -o jsonpath='replicas={.spec.replicas} ordinals.start={.spec.ordinals.start}{"\n"}{range .spec.template.spec.hostAliases[*]}  {.ip} {.hostnames}{"\n"}{end}'
}

echo "== etcd-druid writes etcd-main; no EtcdPlan yet: stored as written"
sed "s/shoot--my-project--my-shoot/$ns/g" "$sts" | kubectl -n "$ns" apply -f - >/dev/null
show
echo
echo "== the migrator's plan: 2 members here from ordinal 3, members 0-2 on the other seed"
kubectl apply -f - >/dev/null <<YAML
apiVersion: seedhop.io/v1alpha1
kind: EtcdPlan
metadata: {name: etcd-main, namespace: $ns}
spec:
  replicas: 2
  ordinalsStart: 3
  remoteMembers:
  - {ordinal: 0, address: 10.250.0.10}
  - {ordinal: 1, address: 10.250.0.11}
  - {ordinal: 2, address: 10.250.0.12}
YAML
sleep 0.5
echo "== etcd-druid reconciles again (rewrites its own shape); the webhook keeps the plan"
sed "s/shoot--my-project--my-shoot/$ns/g" "$sts" | kubectl -n "$ns" replace -f - >/dev/null
show
echo
echo "== webhook metrics"
curl -sk "https://127.0.0.1:$webhook_port/metrics" | grep -E '^seedhop_webhook_(requests_total|patches_total|plans)[ {]' | grep -v ' 0$'

if [ -t 0 ]; then
  echo
  echo "Running. In another shell: export KUBECONFIG=$KUBECONFIG; kubectl -n $ns get sts,etcdplans"
  echo "Webhook: https://127.0.0.1:$webhook_port/{mutate,metrics,healthz,readyz}. Ctrl-C stops."
  wait
fi
