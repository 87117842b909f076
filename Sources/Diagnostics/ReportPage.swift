import Foundation

/// `report.html`: one self-contained page (styles inline, images as data URIs) showing every check,
/// every device and the self-test images, for a remote colleague to open in any browser.
public struct ReportPage: Sendable {
    /// The doctor's report.
    public var report: DiagnosticReport
    /// The self-tests run for the bundle.
    public var selfTests: [SelfTestResult]
    /// Device dumps by device id (JSON text), shown folded.
    public var deviceDumps: [(id: String, json: String)]
    /// The last lines of the service's log.
    public var logTail: String?
    /// The versions of the system, kernel, libraries and packages (the bundle's `versions.txt`).
    public var versions: String?

    /// A page for `report` and `selfTests`.
    public init(
        report: DiagnosticReport, selfTests: [SelfTestResult] = [], deviceDumps: [(id: String, json: String)] = [], logTail: String? = nil,
        versions: String? = nil
    ) {
        self.report = report
        self.selfTests = selfTests
        self.deviceDumps = deviceDumps
        self.logTail = logTail
        self.versions = versions
    }

    /// The page's HTML. Images that cannot be read are listed as missing, not linked.
    public func html() -> String {
        var body = "<header><h1>CounterKit report: \(escape(report.host))</h1>"
        body += "<p class=\"overall \(report.status.rawValue)\">Overall: \(report.status.rawValue)</p>"
        body += "<p>counterkit \(escape(report.version)), checked \(escape(ISO8601DateFormatter().string(from: report.generatedAt))). "
        let counts = [DiagnosticCheck.Status.pass, .warn, .fail].map { status in "\(report.checks.filter { $0.status == status }.count) \(status.rawValue)" }
        body += counts.joined(separator: ", ") + ".</p></header>"
        if let versions {
            body += "<section id=\"versions\"><h2>Versions</h2><pre>\(escape(versions))</pre></section>"
        }
        for section in DiagnosticCheck.Section.allCases {
            let checks = report.checks(in: section)
            let tests = selfTests.filter { sectionOf($0) == section }
            guard !checks.isEmpty || !tests.isEmpty else { continue }
            body += "<section id=\"\(section.rawValue)\"><h2>\(title(section))</h2>" + (checks.isEmpty ? "" : table(checks))
            for test in tests { body += selfTestBlock(test) }
            body += "</section>"
        }
        if !deviceDumps.isEmpty {
            body += "<section id=\"dumps\"><h2>Device details</h2>"
            for dump in deviceDumps { body += "<details><summary>\(escape(dump.id))</summary><pre>\(escape(dump.json))</pre></details>" }
            body += "</section>"
        }
        if let logTail {
            body += "<section id=\"log\"><h2>Service log (most recent)</h2><pre>\(escape(logTail))</pre></section>"
        }
        return """
            <!DOCTYPE html>
            <html lang="en"><head><meta charset="utf-8"><title>CounterKit report: \(escape(report.host))</title>
            <meta name="viewport" content="width=device-width, initial-scale=1">
            <style>\(Self.style)</style></head>
            <body data-images-total="\(imageCount)">\(body)
            <script>\(Self.imageCheck)</script></body></html>
            """
    }

    private var imageCount: Int { selfTests.flatMap(\.images).filter { Self.dataURI($0.path) != nil }.count }

    private func sectionOf(_ test: SelfTestResult) -> DiagnosticCheck.Section { test.check.section }

    private func title(_ section: DiagnosticCheck.Section) -> String {
        switch section {
        case .system: "System"
        case .scanners: "Scanners"
        case .cameras: "Cameras"
        case .pads: "Signature pads"
        }
    }

    private func table(_ checks: [DiagnosticCheck]) -> String {
        var html = "<table><thead><tr><th>Status</th><th>Check</th><th>Found</th><th>Fix</th></tr></thead><tbody>"
        for check in checks {
            let hint = check.status == .pass ? "" : (check.hint.map { "<code>\(escape($0))</code>" } ?? "")
            html +=
                "<tr class=\"\(check.status.rawValue)\"><td class=\"status\">\(check.status.rawValue)</td><td>\(escape(check.id))</td>"
                + "<td>\(escape(check.message))</td><td>\(hint)</td></tr>"
        }
        return html + "</tbody></table>"
    }

    private func selfTestBlock(_ test: SelfTestResult) -> String {
        var html = "<div class=\"selftest\"><h3>Self-test \(escape(test.device))\(test.viaService ? " (through the service)" : "")</h3>" + table(test.steps)
        if !test.measurements.isEmpty {
            html +=
                "<p class=\"figures\">"
                + test.measurements.sorted { $0.key < $1.key }
                .map { "<span>\(escape($0.key)): <b>\(SelfTestResult.formatted($0.value))</b></span>" }.joined(separator: " ") + "</p>"
        }
        for image in test.images {
            if let uri = Self.dataURI(image.path) {
                html += "<figure><img src=\"\(uri)\" alt=\"\(escape(image.label))\"><figcaption>\(escape(image.label))</figcaption></figure>"
            } else {
                html += "<p class=\"FAIL\">image missing: \(escape(image.path))</p>"
            }
        }
        return html + "</div>"
    }

    /// The file as a data URI, by its extension; nil when unreadable or not an image.
    static func dataURI(_ path: String) -> String? {
        let types = ["jpg": "image/jpeg", "jpeg": "image/jpeg", "png": "image/png", "svg": "image/svg+xml"]
        guard let type = types[URL(fileURLWithPath: path).pathExtension.lowercased()],
            let data = FileManager.default.contents(atPath: path), !data.isEmpty
        else { return nil }
        return "data:\(type);base64," + data.base64EncodedString()
    }

    private func escape(_ text: String) -> String {
        var escaped = ""
        escaped.reserveCapacity(text.utf8.count)
        for character in text {
            switch character {
            case "&": escaped += "&amp;"
            case "<": escaped += "&lt;"
            case ">": escaped += "&gt;"
            case "\"": escaped += "&quot;"
            default: escaped.append(character)
            }
        }
        return escaped
    }

    static let style = """
        body{font:15px/1.4 system-ui,sans-serif;margin:2em;color:#222;max-width:1200px}
        h1{font-size:1.6em;margin:0}h2{border-bottom:2px solid #ccc;margin-top:1.6em}
        table{border-collapse:collapse;width:100%;margin:.5em 0}td,th{border:1px solid #ddd;padding:4px 8px;text-align:left;vertical-align:top}
        tr.PASS td.status{background:#d7f5dc;color:#11602a}tr.WARN td.status{background:#fff1c2;color:#7a5a00}
        tr.FAIL td.status{background:#fcd4d4;color:#9b1111;font-weight:bold}.overall{font-size:1.3em;font-weight:bold}
        .overall.PASS{color:#11602a}.overall.WARN{color:#7a5a00}.overall.FAIL{color:#9b1111}p.FAIL{color:#9b1111}
        code{font-size:.9em;background:#f4f4f4;padding:1px 3px}figure{display:inline-block;margin:.5em 1em .5em 0}
        figure img{max-width:560px;max-height:420px;border:1px solid #999;background:#fff}figcaption{font-size:.9em;color:#555}
        .figures span{margin-right:1.2em}pre{background:#f7f7f7;padding:.6em;overflow:auto;max-height:30em}
        """

    /// Marks how many images decoded (`data-images-loaded`) and lists any that did not.
    static let imageCheck = """
        window.addEventListener('load',function(){var all=document.images,ok=0;for(var i=0;i<all.length;i++){
        if(all[i].complete&&all[i].naturalWidth>0){ok++}else{all[i].insertAdjacentHTML('afterend','<p class="FAIL">image did not load</p>')}}
        document.body.setAttribute('data-images-loaded',String(ok));});
        """
}
