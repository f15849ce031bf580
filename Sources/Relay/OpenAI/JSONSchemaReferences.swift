import KeyPool

/// Inlines local `$ref`s (`#/$defs/Name`, `#/definitions/Name`) of a tool's parameter schema,
/// since Gemini cannot follow references and SDK helpers (pydantic models with nested models or
/// enums) emit them. A reference cycle or an unknown target is refused with a 400.
enum JSONSchemaReferences {
    static let maxDepth = 32

    static func inline(_ schema: JSONValue, param: String) throws(OpenAIError) -> JSONValue {
        var definitions: [String: JSONValue] = [:]
        for container in ["$defs", "definitions"] {
            for (name, definition) in schema[container]?.objectMembers ?? [] {
                definitions["#/\(container)/\(name)"] = definition
            }
        }
        return try Self.resolve(schema, definitions: definitions, path: [], param: param)
    }

    private static func resolve(
        _ value: JSONValue,
        definitions: [String: JSONValue],
        path: [String],
        param: String
    ) throws(OpenAIError) -> JSONValue {
        switch value {
        case .object(let members):
            if let reference = value["$ref"]?.stringValue {
                guard let target = definitions[reference] else {
                    throw .invalidRequest("'\(param)' refers to \(reference), which it does not define", param: param)
                }
                guard !path.contains(reference), path.count < Self.maxDepth else {
                    throw .invalidRequest(
                        "'\(param)' has a recursive $ref (\(reference)), which Gemini cannot express",
                        param: param
                    )
                }
                // Keywords beside the reference (a description, say) win over the definition's.
                var merged = try Self.resolve(target, definitions: definitions, path: path + [reference], param: param)
                for (key, sibling) in members where key != "$ref" {
                    merged = merged.setting(
                        key,
                        to: try Self.resolve(sibling, definitions: definitions, path: path, param: param)
                    )
                }
                return merged
            }
            var out: [(String, JSONValue)] = []
            for (key, member) in members where key != "$defs" && key != "definitions" {
                out.append((key, try Self.resolve(member, definitions: definitions, path: path, param: param)))
            }
            return .object(out)
        case .array(let items):
            var out: [JSONValue] = []
            for item in items { out.append(try Self.resolve(item, definitions: definitions, path: path, param: param)) }
            return .array(out)
        default:
            return value
        }
    }
}
