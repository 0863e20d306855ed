"""The gRPC servicers, one module per service of protos/tokhai/v1."""
