#!/usr/bin/env bash
# Regenerates pubsub_api/pubsub_api_pb2.py and pubsub_api_pb2_grpc.py from Salesforce's pubsub_api.proto.
# Run from anywhere; needs the dev extra (grpcio-tools) in the project's venv.
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${VENV:-.venv}/bin/python"
# The proto path is given relative to the repo root so the generated grpc module imports its
# message module as `from pubsub_api import pubsub_api_pb2` (a package import, not a top-level one).
"$PY" -m grpc_tools.protoc -I. --python_out=. --pyi_out=. --grpc_python_out=. pubsub_api/pubsub_api.proto
echo "generated pubsub_api/pubsub_api_pb2.py, pubsub_api_pb2.pyi, pubsub_api_pb2_grpc.py"
