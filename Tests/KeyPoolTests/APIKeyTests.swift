import KeyPool
import Testing

@Suite struct APIKeyTests {
    static let raw = "AIzaSyEXAMPLE000000000000000000000000001"

    @Test func printsOnlyItsFingerprint() throws {
        let key = try #require(APIKey(Self.raw))
        #expect(key.description == "AIza…0001")
        #expect(key.debugDescription == "APIKey(AIza…0001)")
        #expect("\(key)" == "AIza…0001")
        #expect(!String(reflecting: key).contains(Self.raw))
        #expect(!String(describing: [key]).contains(Self.raw))
        #expect(!"\(Optional(key) as Any)".contains(Self.raw))
        #expect(key.revealedForUpstream == Self.raw)
    }

    @Test func trimsSurroundingWhitespace() throws {
        let key = try #require(APIKey("  \t\(Self.raw)\r\n"))
        #expect(key.revealedForUpstream == Self.raw)
        #expect(key == APIKey(Self.raw))
    }

    @Test(
        "refuses empty keys and inner whitespace or control characters",
        arguments: ["", "   \n", "AIza Sy", "AIza\tSy", "AIza\u{7}Sy", "AIza\u{7F}Sy", "AIza\u{0}Sy", "AIzaé"]
    )
    func refusesMalformedKeys(raw: String) {
        #expect(APIKey(raw) == nil)
    }

    @Test func acceptsKeysWhateverTheirPrefixOrLength() {
        #expect(APIKey("AQ.Ab8RN6") != nil)
        #expect(APIKey("x") != nil)
    }

    @Test func hashIsHexSHA256OfTheKey() throws {
        let key = try #require(APIKey(Self.raw))
        #expect(key.hash == SHA256.hex(of: Self.raw))
        #expect(key.hash.count == 64)
    }

    @Test func fingerprintOfLongSecretShowsFourAndFour() {
        #expect(Fingerprint(secret: "abcdefghijklmnopqrstuvwxyz").description == "abcd…wxyz")
        #expect(Fingerprint(secret: String(repeating: "k", count: 19)).description.hasPrefix("#"))
    }

    @Test(arguments: 1...64)
    func fingerprintNeverContainsTheWholeSecret(length: Int) {
        let alphabets = ["k", "a", "0", "AQ.", "f3", "0123456789abcdef"]
        for alphabet in alphabets {
            let secret = String(String(repeating: alphabet, count: length).prefix(length))
            #expect(!Fingerprint(secret: secret).description.contains(secret), "length \(length)")
        }
    }

    @Test func fingerprintOfShortHexSecretsNeverContainsThem() {
        let digits = Array("0123456789abcdef")
        for first in digits {
            #expect(!Fingerprint(secret: String(first)).description.contains(String(first)))
            for second in digits {
                let secret = String([first, second])
                #expect(!Fingerprint(secret: secret).description.contains(secret))
            }
        }
    }
}
