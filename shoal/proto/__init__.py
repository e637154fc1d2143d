"""shoal's wire format: ``shoal.proto`` and its generated code.

``from shoal.proto import shoal_pb2`` gives the messages; ``shoal_pb2_grpc`` (which
imports grpc) the Gateway / Worker services. Regenerate both with ``generate.py``;
the generated code needs protobuf >= 7.35.1 (< 8) and grpcio >= 1.85.1.
"""
