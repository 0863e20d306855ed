"""Generated from protos/tokhai/v1 by grpcio-tools (`make protos`); do not edit."""
