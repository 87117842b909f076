import Foundation

#if canImport(FoundationXML)
    import FoundationXML
#endif

/// The XML namespaces of eSCL documents (the Mopria eSCL specification; PWG Semantic Model elements under `pwg:`).
enum ESCLNamespace {
    static let scan = "http://schemas.hp.com/imaging/escl/2011/05/03"
    static let pwg = "http://www.pwg.org/schemas/2010/12/sm"
}

/// Writes an eSCL XML document element by element, escaping text; the root declares both namespaces.
struct ESCLXMLWriter {
    private var text = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
    private var open: [String] = []

    init(root: String) {
        text += "<\(root) xmlns:scan=\"\(ESCLNamespace.scan)\" xmlns:pwg=\"\(ESCLNamespace.pwg)\">\n"
        open = [root]
    }

    /// Opens an element that holds others.
    mutating func enter(_ name: String) {
        text += String(repeating: "  ", count: open.count) + "<\(name)>\n"
        open.append(name)
    }

    /// Closes the innermost open element.
    mutating func leave() {
        let name = open.removeLast()
        text += String(repeating: "  ", count: open.count) + "</\(name)>\n"
    }

    /// An element with text.
    mutating func element(_ name: String, _ value: String) {
        text += String(repeating: "  ", count: open.count) + "<\(name)>\(Self.escape(value))</\(name)>\n"
    }

    /// An element with a whole number.
    mutating func element(_ name: String, _ value: Int) { element(name, String(value)) }

    /// The document, every element closed.
    mutating func finish() -> String {
        while !open.isEmpty { leave() }
        return text
    }

    static func escape(_ value: String) -> String {
        var escaped = ""
        for character in value {
            switch character {
            case "&": escaped += "&amp;"
            case "<": escaped += "&lt;"
            case ">": escaped += "&gt;"
            case "\"": escaped += "&quot;"
            case "'": escaped += "&apos;"
            default: escaped.append(character)
            }
        }
        return escaped
    }
}

/// Reads an eSCL request document (libxml2 through Foundation's `XMLParser`, namespaces resolved): the root's local
/// name and namespace, and the text of each element by its path of local names below the root
/// (`ScanRegions/ScanRegion/Width`). Elements of other namespaces than eSCL's two are ignored.
struct ESCLXMLDocument {
    /// The root element's local name.
    private(set) var root = ""
    /// The root element's namespace URI.
    private(set) var rootNamespace = ""
    /// Text by element path; the first occurrence of a path wins.
    private(set) var values: [String: String] = [:]

    /// Parses `data`; nil when it is not well-formed XML.
    init?(_ data: Data) {
        let collector = Collector()
        let parser = XMLParser(data: data)
        parser.shouldProcessNamespaces = true
        parser.shouldResolveExternalEntities = false
        parser.delegate = collector
        guard parser.parse(), let root = collector.root else { return nil }
        self.root = root.name
        self.rootNamespace = root.namespace
        self.values = collector.values
    }

    /// The text at `path`, trimmed; nil when absent.
    subscript(_ path: String) -> String? { values[path] }

    private final class Collector: NSObject, XMLParserDelegate {
        var root: (name: String, namespace: String)?
        var values: [String: String] = [:]
        private var path: [String] = []
        private var text = ""

        func parser(
            _ parser: XMLParser, didStartElement elementName: String, namespaceURI: String?, qualifiedName: String?,
            attributes: [String: String] = [:]
        ) {
            if root == nil {
                root = (elementName, namespaceURI ?? "")
                return
            }
            let known = namespaceURI == ESCLNamespace.scan || namespaceURI == ESCLNamespace.pwg
            path.append(known ? elementName : "?")
            text = ""
        }

        func parser(_ parser: XMLParser, foundCharacters string: String) { text += string }

        func parser(_ parser: XMLParser, didEndElement elementName: String, namespaceURI: String?, qualifiedName: String?) {
            guard !path.isEmpty else { return }
            let key = path.joined(separator: "/")
            if !key.contains("?"), values[key] == nil {
                let trimmed = text.trimmingCharacters(in: .whitespacesAndNewlines)
                if !trimmed.isEmpty { values[key] = trimmed }
            }
            path.removeLast()
            text = ""
        }
    }
}
