"""The gRPC face: servicers, protobuf <-> domain mapping and the error table."""
