import Foundation

/// A second verifier for a signed PDF's last signature that is not ours: the bytes its `/ByteRange` covers and the CMS
/// in its `/Contents`, handed to `openssl cms -verify` with `caFile` trusted.
public enum SignedPDFCheck {
    /// OpenSSL's verdict on the last signature of `pdf`: whether it verifies, and what OpenSSL said.
    public static func openSSLVerifies(_ pdf: [UInt8], caFile: String, in directory: TemporaryDirectory) throws -> (ok: Bool, output: String) {
        let text = String(decoding: pdf.map { $0 < 0x80 ? $0 : 0x3F }, as: UTF8.self)
        guard let range = text.range(of: "/ByteRange [", options: .backwards) else { return (false, "no /ByteRange") }
        let numbers = text[range.upperBound...].prefix { $0 != "]" }.split(separator: " ").compactMap { Int($0) }
        guard numbers.count == 4, numbers[0] == 0, numbers[1] < numbers[2], numbers[2] + numbers[3] <= pdf.count else {
            return (false, "a malformed /ByteRange \(numbers)")
        }
        // /Contents <hex> lies between the two ranges.
        let hex = String(decoding: pdf[numbers[1] + 1..<numbers[2] - 1], as: UTF8.self)
        var signature: [UInt8] = []
        var index = hex.startIndex
        while let next = hex.index(index, offsetBy: 2, limitedBy: hex.endIndex), let byte = UInt8(hex[index..<next], radix: 16) {
            signature.append(byte)
            index = next
        }
        let data = Array(pdf[0..<numbers[1]]) + Array(pdf[numbers[2]..<numbers[2] + numbers[3]])
        let signaturePath = directory.path("signature-\(UUID().uuidString).der"), dataPath = directory.path("signed-\(UUID().uuidString).bin")
        try Data(signature).write(to: URL(fileURLWithPath: signaturePath))
        try Data(data).write(to: URL(fileURLWithPath: dataPath))
        let result = try runCommand([
            "/bin/sh", "-c", "exec openssl cms -verify -binary -inform DER -in \"$1\" -content \"$2\" -CAfile \"$3\" -purpose any -out /dev/null 2>&1",
            "sh", signaturePath, dataPath, caFile,
        ])
        return (result.status == 0 && result.output.contains("Verification successful"), result.output)
    }
}
