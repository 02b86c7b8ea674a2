"""Reading GGUF files in test scripts: a cursor over the bytes that takes fixed-size fields
and strings and skips metadata values of any type."""

import struct

# Sizes of the fixed-size GGUF metadata value types (type id -> bytes); 8 is a string and
# 9 an array.
SCALAR_BYTES = {0: 1, 1: 1, 2: 2, 3: 2, 4: 4, 5: 4, 6: 4, 7: 1, 10: 8, 11: 8, 12: 8}


class Reader:
    def __init__(self, data):
        self.data, self.at = data, 0

    def take(self, fmt):
        values = struct.unpack_from("<" + fmt, self.data, self.at)
        self.at += struct.calcsize("<" + fmt)
        return values[0] if len(values) == 1 else values

    def string(self):
        length = self.take("Q")
        self.at += length
        return self.data[self.at - length:self.at].decode("utf-8")

    def skip_value(self, kind):
        if kind == 8:
            self.string()
        elif kind == 9:
            element, count = self.take("IQ")
            for _ in range(count):
                self.skip_value(element)
        else:
            self.at += SCALAR_BYTES[kind]
