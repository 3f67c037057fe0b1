package verify

import "google.golang.org/protobuf/reflect/protoreflect"

func protoBytes(b []byte) protoreflect.Value { return protoreflect.ValueOfBytes(b) }
