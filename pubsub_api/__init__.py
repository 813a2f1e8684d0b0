"""Salesforce Pub/Sub API protocol (eventbus.v1), shared by the emulator's server and the connector's client.

pubsub_api.proto is Salesforce's own file (github.com/forcedotcom/pub-sub-api), copied unchanged;
the *_pb2*.py modules are generated from it by scripts/gen_pubsub_proto.sh. Import as
`from pubsub_api import pubsub_api_pb2, pubsub_api_pb2_grpc`.
"""
