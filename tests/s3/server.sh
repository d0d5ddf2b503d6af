#!/usr/bin/env bash
# Starts (or stops) the S3-compatible servers the tests use: moto's server from PyPI, on
# 127.0.0.1. Two of them:
# - the main one, for everything but credentials: moto checks no signatures there, as its
#   signature check rejects some valid requests (keys with '=' or a prefix query);
# - an authenticating one, for the wrong-credentials test: an IAM user with full S3 access
#   and a bucket are created on it, and any other key or secret is refused.
# Names, ports and keys go to an env file for the tests; `start` prints its path.
#
#   tests/s3/server.sh start
#   tests/s3/server.sh stop
set -euo pipefail

STATE_DIR="${S3_STATE_DIR:-${TMPDIR:-/tmp}/sessionize-s3}"
S3_ENV_FILE="$STATE_DIR/env"
PORT="${S3_PORT:-9571}"
AUTH_PORT="${S3_AUTH_PORT:-9572}"

wait_for() {
    for _ in $(seq 1 150); do
        if python3 -c "import socket; socket.create_connection(('127.0.0.1', $1), 1)" 2>/dev/null; then
            return 0
        fi
        sleep 0.1
    done
    echo "the S3 server on port $1 did not start; see $STATE_DIR" >&2
    return 1
}

start() {
    mkdir -p "$STATE_DIR"
    if ! python3 -c "import moto.server, boto3" 2>/dev/null; then
        python3 -m pip install --quiet --disable-pip-version-check "moto[server]==5.2.1" >&2
    fi
    stop >/dev/null 2>&1 || true
    nohup python3 -m moto.server -H 127.0.0.1 -p "$PORT" >"$STATE_DIR/server.log" 2>&1 &
    echo $! >"$STATE_DIR/pid"
    # the first requests (the set-up below) need no signature; every later one does
    INITIAL_NO_AUTH_ACTION_COUNT=4 nohup python3 -m moto.server -H 127.0.0.1 -p "$AUTH_PORT" \
        >"$STATE_DIR/auth-server.log" 2>&1 &
    echo $! >"$STATE_DIR/auth-pid"
    wait_for "$PORT"
    wait_for "$AUTH_PORT"
    python3 - "$PORT" "$AUTH_PORT" "$S3_ENV_FILE" <<'PY'
import json, sys, boto3
port, auth_port, env_file = sys.argv[1], sys.argv[2], sys.argv[3]
def client(service, port, key="setup", secret="setup"):
    return boto3.client(service, endpoint_url=f"http://127.0.0.1:{port}", region_name="us-east-1",
                        aws_access_key_id=key, aws_secret_access_key=secret)
client("s3", port).create_bucket(Bucket="sessionize-tests")
iam = client("iam", auth_port)
iam.create_user(UserName="sessionize-tests")
key = iam.create_access_key(UserName="sessionize-tests")["AccessKey"]
iam.put_user_policy(UserName="sessionize-tests", PolicyName="s3", PolicyDocument=json.dumps({
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]}))
client("s3", auth_port, key["AccessKeyId"], key["SecretAccessKey"]).create_bucket(Bucket="sessionize-tests")
with open(env_file, "w") as f:
    f.write(f"SESSIONIZE_TEST_S3_ENDPOINT=http://127.0.0.1:{port}\n")
    f.write("SESSIONIZE_TEST_S3_BUCKET=sessionize-tests\n")
    f.write("SESSIONIZE_TEST_S3_ACCESS_KEY_ID=open-server-key\n")
    f.write("SESSIONIZE_TEST_S3_SECRET_ACCESS_KEY=sessionize-tests-secret\n")
    f.write(f"SESSIONIZE_TEST_S3_AUTH_ENDPOINT=http://127.0.0.1:{auth_port}\n")
    f.write(f"SESSIONIZE_TEST_S3_AUTH_ACCESS_KEY_ID={key['AccessKeyId']}\n")
    f.write(f"SESSIONIZE_TEST_S3_AUTH_SECRET_ACCESS_KEY={key['SecretAccessKey']}\n")
PY
    echo "$S3_ENV_FILE"
}

stop() {
    for pid_file in "$STATE_DIR/pid" "$STATE_DIR/auth-pid"; do
        if [ -f "$pid_file" ]; then
            kill "$(cat "$pid_file")" 2>/dev/null || true
            rm -f "$pid_file"
        fi
    done
}

case "${1:-}" in
    start) start ;;
    stop) stop ;;
    *) echo "usage: $0 start|stop" >&2; exit 2 ;;
esac
