import CounterKitTestSupport
import Foundation
import FuzzTargets
import Testing

/// Each fuzz target over its seed corpus (fixtures/fuzz/<target>/, which keeps every input that once failed as
/// regress-*) and over deterministic mutations of it: the brief run in every test pass. Long runs under
/// libFuzzer with AddressSanitizer are `make fuzz`.
@Suite(.ownThreads) struct FuzzCorpusTests {
    static let mutationsPerTarget = 3000

    static func corpus(_ target: FuzzTarget) throws -> [(name: String, bytes: [UInt8])] {
        let directory = repositoryRoot().appendingPathComponent("fixtures/fuzz/\(target.rawValue)")
        return try FileManager.default.contentsOfDirectory(atPath: directory.path).sorted().map {
            ($0, Array(try Data(contentsOf: directory.appendingPathComponent($0))))
        }
    }

    @Test(arguments: FuzzTarget.allCases)
    func theSeedsAreAcceptedAndMutationsNeverCrash(_ target: FuzzTarget) throws {
        let corpus = try Self.corpus(target)
        let seeds = corpus.filter { !$0.name.hasPrefix("regress-") }
        #expect(!seeds.isEmpty, "fixtures/fuzz/\(target.rawValue) has seeds")
        for seed in seeds {
            #expect(target.run(seed.bytes), "the seed \(seed.name) is a valid input that reaches past the first checks")
        }
        for regression in corpus where regression.name.hasPrefix("regress-") {
            target.run(regression.bytes)
        }
        var mutator = Mutator(seed: UInt64(target.rawValue.utf8.reduce(5381) { $0 &* 33 &+ Int($1) }.magnitude))
        var refused = 0
        for _ in 0..<Self.mutationsPerTarget {
            let input = mutator.mutate(corpus.map(\.bytes))
            if !target.run(input) { refused += 1 }
        }
        #expect(refused > 0, "some mutations are refused (the error paths run too)")
    }
}

/// libFuzzer's basic mutations, deterministic: bit flips, byte values, interesting values, inserts, deletes,
/// duplicated chunks and splices of two inputs.
struct Mutator {
    private var random: SeededRandom

    init(seed: UInt64) { random = SeededRandom(seed: seed) }

    private mutating func next() -> UInt64 { random.next() }

    private mutating func below(_ bound: Int) -> Int { bound <= 1 ? 0 : Int(next() % UInt64(bound)) }

    mutating func mutate(_ corpus: [[UInt8]]) -> [UInt8] {
        var bytes = corpus[below(corpus.count)]
        for _ in 0...below(4) {
            let at = below(bytes.count + 1)
            switch below(7) {
            case 0 where !bytes.isEmpty: bytes[min(at, bytes.count - 1)] ^= 1 << UInt8(below(8))
            case 1 where !bytes.isEmpty: bytes[min(at, bytes.count - 1)] = UInt8(truncatingIfNeeded: next())
            case 2 where !bytes.isEmpty: bytes[min(at, bytes.count - 1)] = [0, 1, 0x7F, 0x80, 0xFE, 0xFF][below(6)]
            case 3: bytes.insert(contentsOf: (0..<(1 + below(8))).map { _ in UInt8(truncatingIfNeeded: next()) }, at: at)
            case 4 where !bytes.isEmpty: bytes.removeSubrange(at..<min(bytes.count, at + 1 + below(16)))
            case 5 where !bytes.isEmpty:
                let start = below(bytes.count), length = 1 + below(min(32, bytes.count - start))
                bytes.insert(contentsOf: bytes[start..<(start + length)], at: at)
            default:
                let other = corpus[below(corpus.count)]
                bytes = Array(bytes.prefix(at)) + Array(other.suffix(from: min(below(other.count + 1), other.count)))
            }
        }
        return bytes
    }
}
