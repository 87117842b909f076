import Foundation
import Sealing

#if canImport(Glibc)
    import Glibc
#endif

/// Sealing's cost, side by side in one run: a 300 dpi A4 colour scan through an unsealed service and through a
/// sealed one (signed manifest, envelope for the back office, audit entry), alternating; the sealed service's peak
/// RSS after a 600 dpi scan against the unsealed one's; and the counter key's signing rate against `openssl speed`.
func sealingBenchmarks(counterkit: String, environment: [String: String], work: URL) {
    print("== Sealing: sign + envelope + audit on every capture, against the same service unsealed")
    let directory = work.appendingPathComponent("sealing")
    try? FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    let keyPath = directory.appendingPathComponent("seal.key").path
    let office = directory.appendingPathComponent("office").path
    do { try CounterKey.generate(.ed25519).write(to: keyPath) } catch { fatalError("cannot write the key: \(error)") }
    precondition(
        spawn([
            "openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", office + ".key", "-out", office + ".crt",
            "-subj", "/CN=office", "-days", "30",
        ]).status == 0, "openssl cannot make the back office's certificate")
    let plainSocket = directory.appendingPathComponent("plain.sock").path, sealedSocket = directory.appendingPathComponent("sealed.sock").path
    let (_, plain) = timeToFirstAnswer(
        [counterkit, "serve", "--socket", plainSocket, "--spool", directory.appendingPathComponent("plain").path, "--log-level", "warning"],
        socket: plainSocket, target: "/v1/health", environment: environment)
    let (_, sealed) = timeToFirstAnswer(
        [
            counterkit, "serve", "--socket", sealedSocket, "--spool", directory.appendingPathComponent("sealed").path, "--log-level", "warning",
            "--seal-key", keyPath, "--seal-recipient", office + ".crt",
        ], socket: sealedSocket, target: "/v1/health", environment: environment)
    // The same, keeping no plaintext (plaintext-retention 0): the encoder writes only into the envelope.
    let envelopeOnlySocket = directory.appendingPathComponent("envelope-only.sock").path
    let (_, envelopeOnly) = timeToFirstAnswer(
        [
            counterkit, "serve", "--socket", envelopeOnlySocket, "--spool", directory.appendingPathComponent("envelope-only").path, "--log-level",
            "warning", "--seal-key", keyPath, "--seal-recipient", office + ".crt", "--plaintext-retention", "0",
        ], socket: envelopeOnlySocket, target: "/v1/health", environment: environment)
    defer {
        stop(plain)
        stop(sealed)
        stop(envelopeOnly)
    }
    func scan(_ socket: String, _ resolution: Int) -> Double {
        let connection = KeepAliveConnection(socket: socket)
        let body = #"{"device":"test:0","resolution":\#(resolution),"paper":"A4","format":"jpeg","options":{"test-picture":"Color pattern"}}"#
        let start = ContinuousClock.now
        guard let answer = connection.send("POST", "/v1/scans?wait=true", body: body), answer.status == 200,
            String(decoding: answer.body, as: UTF8.self).contains(#""state":"completed""#)
        else { fatalError("the scan through \(socket) failed") }
        let elapsed = ContinuousClock.now - start
        return Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
    }
    // Alternating, so that a slow moment of the machine falls on both alike: 15 pairs, and sealing's cost taken as the
    // median of each pair's difference (the disk's fsync latency wanders by milliseconds from one scan to the next).
    for socket in [plainSocket, sealedSocket, envelopeOnlySocket] { _ = scan(socket, 300) }
    var plainTimes: [Double] = [], sealedTimes: [Double] = [], envelopeOnlyTimes: [Double] = []
    for _ in 0..<15 {
        plainTimes.append(scan(plainSocket, 300))
        sealedTimes.append(scan(sealedSocket, 300))
        envelopeOnlyTimes.append(scan(envelopeOnlySocket, 300))
    }
    let plainMedian = plainTimes.sorted()[7]
    for (label, times) in [("sealed", sealedTimes), ("sealed, no plaintext kept", envelopeOnlyTimes)] {
        let added = zip(times, plainTimes).map { $0 - $1 }.sorted()[7]
        print(
            "scan A4 300 dpi jpeg  unsealed \(format(plainMedian * 1000)) ms   \(label) \(format(times.sorted()[7] * 1000)) ms   "
                + "sealing adds \(format(added * 1000)) ms = \(format(added / plainMedian * 100)) % (median of 15 pairs) [target <= 5 %]")
    }
    _ = scan(plainSocket, 600)
    _ = scan(sealedSocket, 600)
    print(
        "peak RSS after a 600 dpi A4 scan  unsealed \(format(Double(highWaterKiB(plain) ?? 0) / 1024)) MiB   "
            + "sealed \(format(Double(highWaterKiB(sealed) ?? 0) / 1024)) MiB (the envelope is encrypted in blocks as the data is written) [target: flat]")

    // Signing rates: the counter key against OpenSSL's own measurement on this machine.
    for (algorithm, peer, label) in [(SealAlgorithm.ed25519, "ed25519", "Ed25519"), (.p256, "ecdsap256", "ECDSA P-256"), (.sm2, "sm2", "SM2")] {
        guard let key = try? CounterKey.generate(algorithm) else {
            print("sign \(label)  not measured: this OpenSSL cannot make the key")
            continue
        }
        let message = [UInt8](repeating: 0x5a, count: 20)
        var count = 0
        let start = ContinuousClock.now
        var elapsed = Duration.zero
        while elapsed < .seconds(2) {
            for _ in 0..<100 { _ = try? key.signature(for: message) }
            count += 100
            elapsed = ContinuousClock.now - start
        }
        let ours = Double(count) / (Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18)
        let output = work.appendingPathComponent("speed.txt").path
        spawn(["openssl", "speed", "-seconds", "2", peer], stdout: output)
        let text = (try? String(contentsOfFile: output, encoding: .utf8)) ?? ""
        // The last table's row: "… sign/s verify/s" as the two numbers before the end of the line.
        let row = text.split(separator: "\n").last { $0.contains("sign") == false && $0.split(separator: " ").count >= 4 } ?? ""
        let numbers = row.split(separator: " ").compactMap { Double($0) }
        let peerRate = numbers.count >= 2 ? numbers[numbers.count - 2] : 0
        print(
            "sign \(label)  counterkit (\(algorithm == .sm2 ? "OpenSSL's libcrypto, SM3 and the signer id included" : "swift-crypto")) \(format(ours)) sign/s   openssl speed \(format(peerRate)) sign/s   "
                + "ratio (ours/openssl) \(peerRate > 0 ? format(ours / peerRate) : "n/a")")
    }
}
