"""Tokhai's national check-in and tracing service, served over gRPC.

The public API is in ``protos/tokhai/v1``; its generated Python code is the
``tokhai.v1`` package shipped beside this one. ``tokhai serve`` starts the
service (see ``tokhai_server.cli``).
"""
