import CMicroHTTPD

extension ResponseBodyWriter {
    /// Bytes libmicrohttpd asks for per content-reader call (also its chunk size).
    static let blockSize = 32 << 10

    /// A chunked MHD response reading from `writer`, which it retains until MHD frees it.
    static func makeMHDResponse(_ writer: ResponseBodyWriter) -> OpaquePointer? {
        let retained = Unmanaged.passRetained(writer).toOpaque()
        let response = MHD_create_response_from_callback(
            UInt64.max,  // MHD_SIZE_UNKNOWN: chunked encoding
            Self.blockSize,
            { cls, _, buffer, capacity in
                guard let cls, let buffer else { return Int(MHD_CONTENT_READER_END_WITH_ERROR) }
                let writer = Unmanaged<ResponseBodyWriter>.fromOpaque(cls).takeUnretainedValue()
                return writer.read(into: UnsafeMutableRawPointer(buffer), capacity: capacity)
            },
            retained,
            { cls in
                guard let cls else { return }
                let writer = Unmanaged<ResponseBodyWriter>.fromOpaque(cls).takeRetainedValue()
                writer.close()
            }
        )
        if response == nil {
            // MHD calls the free callback only for responses it created.
            Unmanaged<ResponseBodyWriter>.fromOpaque(retained).release()
        }
        return response
    }
}
