import ChildProcesses
import Foundation

/// A real RFC 3161 TSA for tests: OpenSSL makes a root and a TSA certificate (extended key usage timeStamping), and
/// `openssl ts -reply` answers behind `Tests/Verifiers/tsa_server.py`, on a free loopback port.
public final class TestTimestampAuthority: Sendable {
    /// `http://127.0.0.1:PORT/tsa`.
    public let url: String
    /// The root that issued the TSA's certificate (PEM file), to trust when validating timestamps.
    public let rootCertificate: String
    private let server: ChildProcess

    /// Sets the TSA up in `directory` and starts it.
    public init(in directory: TemporaryDirectory) throws {
        let dir = directory.path("tsa")
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        func openssl(_ arguments: [String]) throws {
            let run = try runCommand(["/bin/sh", "-c", "exec openssl \"$@\" 2>&1", "sh"] + arguments)
            guard run.status == 0 else { throw TestVMError(message: "openssl \(arguments.first ?? ""): \(run.output)") }
        }
        try openssl([
            "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", "\(dir)/root.key", "-out", "\(dir)/root.crt",
            "-subj", "/CN=Test TSA root", "-days", "30", "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign",
        ])
        try openssl([
            "req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", "\(dir)/tsa.key", "-out", "\(dir)/tsa.csr",
            "-subj", "/CN=Test TSA",
        ])
        try "extendedKeyUsage=critical,timeStamping\nkeyUsage=critical,digitalSignature\n".write(
            toFile: "\(dir)/tsa.ext", atomically: true, encoding: .utf8)
        try openssl([
            "x509", "-req", "-in", "\(dir)/tsa.csr", "-CA", "\(dir)/root.crt", "-CAkey", "\(dir)/root.key", "-CAcreateserial", "-out", "\(dir)/tsa.crt",
            "-days", "30", "-extfile", "\(dir)/tsa.ext",
        ])
        try "01\n".write(toFile: "\(dir)/serial", atomically: true, encoding: .utf8)
        try """
        [ tsa ]
        default_tsa = tsa_config
        [ tsa_config ]
        serial = \(dir)/serial
        crypto_device = builtin
        signer_cert = \(dir)/tsa.crt
        certs = \(dir)/root.crt
        signer_key = \(dir)/tsa.key
        signer_digest = sha256
        default_policy = 1.2.3.4.1
        digests = sha256, sha384, sha512
        accuracy = secs:1
        ordering = yes
        tsa_name = no
        ess_cert_id_chain = no
        ess_cert_id_alg = sha256

        """.write(toFile: "\(dir)/ts.cnf", atomically: true, encoding: .utf8)
        rootCertificate = "\(dir)/root.crt"
        server = try ChildProcess(
            executable: "python3", arguments: ["-u", repositoryRoot().appendingPathComponent("Tests/Verifiers/tsa_server.py").path, "\(dir)/ts.cnf"],
            pipeInput: false, discardErrors: true)
        // The first line names the port.
        var line: [UInt8] = []
        var byte: UInt8 = 0
        while let fd = server.standardOutput, read(fd, &byte, 1) == 1, byte != UInt8(ascii: "\n") { line.append(byte) }
        let text = String(decoding: line, as: UTF8.self)
        guard text.hasPrefix("tsa: listening on "), let port = Int(text.dropFirst("tsa: listening on ".count)) else {
            server.signal(SIGKILL)
            throw TestVMError(message: "the test TSA did not start: \(text)")
        }
        url = "http://127.0.0.1:\(port)/tsa"
    }

    deinit {
        server.signal(SIGKILL)
        _ = server.wait()
    }
}
