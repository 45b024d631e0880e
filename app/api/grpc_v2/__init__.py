"""The Open Inference Protocol over gRPC (GRPC_PORT): the protocol's messages, the servicer, the server.

`grpc_predict_v2_pb2*.py` are generated from `grpc_predict_v2.proto` by `python -m tools.generate_grpc`.
"""
