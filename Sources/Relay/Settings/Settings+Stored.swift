import KeyPool

extension Settings {
    /// Pool settings set explicitly here (file, environment, flags), in their stored form.
    public var explicitPoolSettings: [String: String] {
        self.storedPoolSettings.filter { self.explicitlySet.contains($0.key) }
    }

    /// These settings with the store's pool settings applied over them (the store is the truth in
    /// a fleet). A stored value that does not parse is skipped and reported, so a bad edit in SQL
    /// leaves the setting as it was.
    public func applyingStored(_ stored: [String: String]) -> (settings: Settings, problems: [String]) {
        var merged = self
        var problems: [String] = []
        for (name, json) in stored.sorted(by: { $0.key < $1.key }) {
            guard let spec = SettingSpec.named(name), spec.scope == .pool else {
                problems.append("store: setting '\(name)' is not a pool setting; ignored")
                continue
            }
            do {
                let value: JSONValue
                do {
                    value = try JSONValue.parse(json)
                } catch {
                    throw SettingError(setting: name, source: "store", message: "is not valid JSON")
                }
                if name == "admin_token" && value.isNull && merged.access.adminToken != nil {
                    // Clearing it in SQL would close the admin API of the whole fleet at once.
                    throw SettingError(setting: name, source: "store", message: "cannot be cleared while it is set")
                }
                var candidate = merged
                try candidate.apply(
                    name: name,
                    text: Self.configText(name: name, value: value, source: "store"),
                    source: "store"
                )
                candidate.explicitlySet = merged.explicitlySet
                merged = candidate
            } catch {
                problems.append("\(error); keeping the previous value")
            }
        }
        return (merged, problems)
    }

    /// Explicit settings whose value differs from the store's, for the start-up warning.
    public func differences(from stored: [String: String]) -> [String] {
        self.explicitPoolSettings.compactMap { name, value in
            guard let storedValue = stored[name] else { return nil }
            let same = (try? JSONValue.parse(storedValue)) == (try? JSONValue.parse(value))
            return same ? nil : name
        }.sorted()
    }
}
