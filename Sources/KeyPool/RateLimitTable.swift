import Foundation

/// Model → limits, per quota tier (DESIGN.md §3). Shape of the JSON: tier name → model prefix →
/// `{"rpm": n, "tpm": n, "rpd": n}`, where a missing or `null` counter is unlimited. A request's
/// model is matched to the longest configured prefix; that prefix is the model its usage row is
/// counted under, so `gemini-2.5-flash-lite-preview-09-2025` counts as `gemini-2.5-flash-lite`.
public struct RateLimitTable: Sendable, Hashable {
    /// Tiers in the order the JSON listed them; the first is the fallback for a missing tier.
    public let tiers: [(name: String, models: [String: Limits])]

    public static func == (lhs: RateLimitTable, rhs: RateLimitTable) -> Bool {
        lhs.tiers.map(\.name) == rhs.tiers.map(\.name)
            && zip(lhs.tiers, rhs.tiers).allSatisfy { $0.models == $1.models }
    }

    public func hash(into hasher: inout Hasher) {
        for tier in self.tiers {
            hasher.combine(tier.name)
            hasher.combine(tier.models)
        }
    }

    public init(tiers: [(name: String, models: [String: Limits])]) {
        self.tiers = tiers
    }

    /// Parses the table's JSON. Throws a message naming `setting` for a wrong shape.
    public init(json: String, setting: String = "rate_limits") throws(SettingError) {
        let document: JSONValue
        do {
            document = try JSONValue.parse(json)
        } catch {
            throw SettingError(setting: setting, message: "is not valid JSON (\(error))")
        }
        guard let tierMembers = document.objectMembers, !tierMembers.isEmpty else {
            throw SettingError(setting: setting, message: "must be a JSON object of tiers")
        }
        var tiers: [(name: String, models: [String: Limits])] = []
        for (tierName, models) in tierMembers {
            guard let modelMembers = models.objectMembers else {
                throw SettingError(setting: setting, message: "tier '\(tierName)' must be an object of models")
            }
            var table: [String: Limits] = [:]
            for (prefix, value) in modelMembers {
                let limits = try Limits(json: value, setting: "\(setting).\(tierName).\(prefix)")
                table[prefix.hasPrefix("models/") ? String(prefix.dropFirst(7)) : prefix] = limits
            }
            tiers.append((tierName, table))
        }
        self.tiers = tiers
    }

    /// The table shipped with KeyRelay: Google's published limits (DESIGN.md Appendix A).
    public static func bundled() -> RateLimitTable {
        guard let url = Bundle.module.url(forResource: "rate_limits", withExtension: "json"),
            let data = try? Data(contentsOf: url),
            let table = try? RateLimitTable(json: String(decoding: data, as: UTF8.self))
        else {
            preconditionFailure("bundled rate_limits.json is missing or invalid")
        }
        return table
    }

    /// Every model prefix any tier lists.
    public var allPrefixes: Set<String> { Set(self.tiers.flatMap { $0.models.keys }) }

    /// The models of `tier`, or of the first tier when `tier` is absent (`usedFallback` is then true).
    public func models(forTier tier: String) -> (models: [String: Limits], usedFallback: Bool) {
        if let match = self.tiers.first(where: { $0.name == tier }) {
            return (match.models, false)
        }
        return (self.tiers.first?.models ?? [:], true)
    }
}

/// The limits that apply to requests for a model, resolved against one tier of the table.
public struct ModelLimits: Sendable, Hashable {
    /// Prefix → limits of the chosen tier.
    public let models: [String: Limits]
    /// Limits for a model no prefix matches (default unlimited).
    public let unknownModel: Limits
    private let prefixesLongestFirst: [String]

    /// - Parameters:
    ///   - models: prefix → limits of the chosen tier.
    ///   - knownPrefixes: prefixes listed by any tier. A model whose longest match is a prefix the
    ///     chosen tier does not list gets `unknownModel` (Appendix A: "a tier that does not list a
    ///     model leaves it to the unknown-model limits"), rather than a shorter prefix's limits.
    public init(models: [String: Limits], unknownModel: Limits = .unlimited, knownPrefixes: Set<String> = []) {
        self.models = models
        self.unknownModel = unknownModel
        self.prefixesLongestFirst = knownPrefixes.union(models.keys).sorted { ($0.count, $1) > ($1.count, $0) }
    }

    /// The quota model (the longest matching prefix, or the name itself when none matches)
    /// and its limits.
    public func resolve(_ name: ModelName) -> (quotaModel: String, limits: Limits) {
        if let prefix = self.prefixesLongestFirst.first(where: { name.value.hasPrefix($0) }) {
            return (prefix, self.models[prefix] ?? self.unknownModel)
        }
        return (name.value, self.unknownModel)
    }
}

extension Limits {
    /// Parses `{"rpm": n, "tpm": n, "rpd": n}`; a missing or null member is unlimited.
    public init(json: JSONValue, setting: String) throws(SettingError) {
        guard let members = json.objectMembers else {
            throw SettingError(
                setting: setting,
                message: "must be an object like {\"rpm\": 10, \"tpm\": 250000, \"rpd\": 250}"
            )
        }
        var limits = Limits()
        for (name, value) in members {
            let parsed: Int?
            if value.isNull {
                parsed = nil
            } else if let int = value.intValue, int >= 0 {
                parsed = int
            } else {
                throw SettingError(setting: setting, message: "'\(name)' must be a whole number ≥ 0 or null")
            }
            switch name {
            case "rpm": limits.rpm = parsed
            case "tpm": limits.tpm = parsed
            case "rpd": limits.rpd = parsed
            default: throw SettingError(setting: setting, message: "unknown counter '\(name)' (expected rpm, tpm, rpd)")
            }
        }
        self = limits
    }
}

/// A setting that could not be accepted. The message names the setting (and, when known, where
/// the value came from) and never contains a secret.
public struct SettingError: Error, Sendable, Hashable, CustomStringConvertible {
    public var setting: String
    public var source: String?
    public var message: String

    public init(setting: String, source: String? = nil, message: String) {
        self.setting = setting
        self.source = source
        self.message = message
    }

    public var description: String {
        if let source = self.source {
            return "\(source): setting '\(self.setting)' \(self.message)"
        }
        return "setting '\(self.setting)' \(self.message)"
    }
}
