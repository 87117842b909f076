import CounterKitCore
import Foundation

/// Where on a document the citizen signs: a page and a rectangle in millimetres from the page's top-left corner (of
/// its visible area, the crop box), with the reason and the signer's name the signature records.
public struct SignaturePlacement: Sendable, Equatable, Codable {
    /// The page, from 1.
    public var page: Int
    /// The rectangle `[x, y, width, height]` in millimetres from the page's top-left.
    public var rect: [Double]
    /// Why it is signed (`/Reason`).
    public var reason: String?
    /// Who signs (`/Name`).
    public var name: String?
    /// The ink's colour, `#rrggbb` (default black).
    public var color: String?

    /// A placement.
    public init(page: Int, rect: [Double], reason: String? = nil, name: String? = nil, color: String? = nil) {
        self.page = page
        self.rect = rect
        self.reason = reason
        self.name = name
        self.color = color
    }
}

/// What the back office gets inside the signed revision, encrypted to it: the session's ISO/IEC 19794-7 record and
/// stroke JSON, bound to the document by its SHA-256 (`signature-evidence.p7m`, a MIME multipart in a CMS envelope).
public struct SignatureEvidence: Sendable {
    /// The ISO/IEC 19794-7 record.
    public var iso19794: [UInt8]
    /// The stroke JSON.
    public var strokes: [UInt8]

    /// Evidence of one session.
    public init(iso19794: [UInt8], strokes: [UInt8]) {
        self.iso19794 = iso19794
        self.strokes = strokes
    }
}

/// What signs a document with a signature session's ink: the seam through which the hub's signature sessions sign the
/// PDF a citizen signs (the `SignedDocuments` module's `DocumentSigner`).
public protocol DocumentSigning: Sendable {
    /// The page count of `pdf` when it is a sound, open PDF; else `invalid_document` saying what is wrong.
    func pageCount(of pdf: [UInt8], name: String) throws(CounterKitError) -> Int
    /// Checks what can be checked before the citizen signs (the PDF, the page, the rectangle, the key); returns the
    /// page count. `name` names the document in errors.
    @discardableResult
    func check(_ placement: SignaturePlacement, in pdf: [UInt8], name: String) throws(CounterKitError) -> Int
    /// The signed PDF: `pdf` with `ink` placed as `placement` says, signed, with `evidence` embedded when given.
    func sign(
        _ pdf: [UInt8], placement: SignaturePlacement, ink: Signature, evidence: SignatureEvidence?, name: String, time: Date
    ) throws(CounterKitError) -> SignedPDF
}

/// A signed PDF and what its signature is.
public struct SignedPDF: Sendable, Equatable {
    /// The file.
    public var bytes: [UInt8]
    /// `PAdES-B-T` (timestamped by a TSA) or `PAdES-B-B`.
    public var level: String
    /// Why a timestamp that was asked for is missing (the TSA failed and one was not required); nil otherwise.
    public var timestampProblem: String?

    /// A signed PDF.
    public init(bytes: [UInt8], level: String, timestampProblem: String? = nil) {
        self.bytes = bytes
        self.level = level
        self.timestampProblem = timestampProblem
    }
}
