import KeyPool

/// Translates OpenAI `tools` and `tool_choice` into Gemini `functionDeclarations` and
/// `toolConfig`. Gemini's `parameters` take an OpenAPI subset of JSON Schema and answer 400 to
/// keywords outside it (`additionalProperties`, `$schema`, …), so schemas are rebuilt from an
/// allow-list of keywords rather than forwarded.
enum ChatToolTranslator {
    /// Schema keywords Gemini's `parameters` accept, copied as they are.
    static let keptKeywords: Set<String> = [
        "description", "format", "nullable", "enum", "required", "minimum", "maximum", "minItems", "maxItems",
        "minLength", "maxLength", "pattern", "minProperties", "maxProperties", "propertyOrdering",
    ]

    /// One `functionDeclaration` per tool; empty when `tools` is absent or empty.
    static func declarations(_ tools: JSONValue?) throws(OpenAIError) -> [JSONValue] {
        guard let tools else { return [] }
        guard let items = tools.arrayValue else {
            throw .invalidRequest("'tools' must be an array of tool definitions", param: "tools")
        }
        var declarations: [JSONValue] = []
        var seen: Set<String> = []
        for (index, tool) in items.enumerated() {
            let param = "tools[\(index)]"
            guard tool["type"]?.stringValue == "function" else {
                throw .invalidRequest("'\(param).type' must be \"function\"", param: "\(param).type")
            }
            guard let function = tool["function"], function.objectMembers != nil else {
                throw .invalidRequest("'\(param).function' must be an object", param: "\(param).function")
            }
            guard let name = function["name"]?.stringValue, !name.isEmpty else {
                throw .invalidRequest(
                    "'\(param).function.name' must be a non-empty string",
                    param: "\(param).function.name"
                )
            }
            guard seen.insert(name).inserted else {
                throw .invalidRequest(
                    "'\(param).function.name' repeats the tool name '\(name)'",
                    param: "\(param).function.name"
                )
            }

            var declaration: [(String, JSONValue)] = [("name", .string(name))]
            if let description = function.present("description") {
                guard description.stringValue != nil else {
                    throw .invalidRequest(
                        "'\(param).function.description' must be a string",
                        param: "\(param).function.description"
                    )
                }
                declaration.append(("description", description))
            }
            if let parameters = function.present("parameters") {
                let inlined = try JSONSchemaReferences.inline(parameters, param: "\(param).function.parameters")
                let schema = try Self.cleanSchema(inlined, param: "\(param).function.parameters")
                // Gemini refuses an OBJECT schema without properties ("should be non-empty for OBJECT
                // type"); a function without parameters is simply declared without them.
                if schema["type"]?.stringValue != "object" || schema["properties"]?.objectMembers?.isEmpty == false {
                    declaration.append(("parameters", schema))
                }
            }
            declarations.append(.object(declaration))
        }
        return declarations
    }

    /// `toolConfig.functionCallingConfig` for `tool_choice`; nil when absent.
    static func toolConfig(_ choice: JSONValue?, names: [String]) throws(OpenAIError) -> JSONValue? {
        guard let choice else { return nil }
        let mode: String
        var allowed: [String] = []
        switch choice.stringValue {
        case "none": mode = "NONE"
        case "auto": mode = "AUTO"
        case "required": mode = "ANY"
        case .some:
            throw .invalidRequest("'tool_choice' must be none, auto, required or a function", param: "tool_choice")
        case nil:
            guard choice["type"]?.stringValue == "function",
                let name = choice["function"]?["name"]?.stringValue
            else {
                throw .invalidRequest(
                    "'tool_choice' must be none, auto, required or {\"type\":\"function\",\"function\":{\"name\":…}}",
                    param: "tool_choice"
                )
            }
            guard names.contains(name) else {
                throw .invalidRequest("'tool_choice.function.name' names no tool in 'tools'", param: "tool_choice")
            }
            mode = "ANY"
            allowed = [name]
        }
        var config: [(String, JSONValue)] = [("mode", .string(mode))]
        if !allowed.isEmpty {
            config.append(("allowedFunctionNames", .array(allowed.map(JSONValue.string))))
        }
        return ["functionCallingConfig": .object(config)]
    }

    /// A JSON Schema rebuilt from the keywords Gemini accepts, recursively through `properties`,
    /// `items` and `anyOf` (`oneOf` becomes `anyOf`). `type: ["x","null"]` becomes `type: x` with
    /// `nullable: true`; `const` becomes a one-value `enum`. Other keywords (`$schema`, `$id`,
    /// `additionalProperties`, `default`, `examples`, `title`, `strict`, `$defs`, …) are dropped.
    /// - Throws: 400 for a schema that is not an object, or one using `$ref` (Gemini cannot follow it).
    static func cleanSchema(_ schema: JSONValue, param: String) throws(OpenAIError) -> JSONValue {
        guard let members = schema.objectMembers else {
            throw .invalidRequest("'\(param)' must be a JSON schema object, got \(schema.typeName)", param: param)
        }
        if schema["$ref"] != nil {
            throw .invalidRequest(
                "'\(param)' uses $ref, which Gemini does not support; inline the definition",
                param: param
            )
        }
        var cleaned: [(String, JSONValue)] = []
        for (key, value) in members {
            switch key {
            case "type":
                cleaned.append(contentsOf: Self.type(value))
            case "properties":
                guard let properties = value.objectMembers else {
                    throw .invalidRequest("'\(param).properties' must be an object", param: "\(param).properties")
                }
                var out: [(String, JSONValue)] = []
                for (name, property) in properties {
                    out.append((name, try Self.cleanSchema(property, param: "\(param).properties.\(name)")))
                }
                cleaned.append(("properties", .object(out)))
            case "items":
                // A tuple form (`items: [...]`) has no Gemini equivalent; dropping it leaves a plain array.
                if value.objectMembers != nil {
                    cleaned.append(("items", try Self.cleanSchema(value, param: "\(param).items")))
                }
            case "anyOf", "oneOf":
                guard let options = value.arrayValue else {
                    throw .invalidRequest("'\(param).\(key)' must be an array", param: "\(param).\(key)")
                }
                var out: [JSONValue] = []
                for (offset, option) in options.enumerated() {
                    out.append(try Self.cleanSchema(option, param: "\(param).\(key)[\(offset)]"))
                }
                cleaned.append(("anyOf", .array(out)))
            case "const" where schema["enum"] == nil:
                cleaned.append(("enum", [value]))
            case "allOf":
                // Gemini has no allOf; the members of its schemas are merged into this one.
                for (offset, part) in (value.arrayValue ?? []).enumerated() {
                    let partClean = try Self.cleanSchema(part, param: "\(param).allOf[\(offset)]")
                    for (partKey, partValue) in partClean.objectMembers ?? []
                    where !cleaned.contains(where: { $0.0 == partKey }) {
                        cleaned.append((partKey, partValue))
                    }
                }
            case _ where Self.keptKeywords.contains(key):
                cleaned.append((key, value))
            default:
                continue
            }
        }
        return .object(Self.geminiCompatible(cleaned))
    }

    /// What Gemini refuses even among the kept keywords: enums of anything but strings (their
    /// values become strings and the type `string`), and `format`s other than those it knows
    /// (`enum` and `date-time` for strings, `int32`/`int64`/`float`/`double` for numbers).
    static func geminiCompatible(_ members: [(String, JSONValue)]) -> [(String, JSONValue)] {
        var out = members
        if let index = out.firstIndex(where: { $0.0 == "enum" }), let values = out[index].1.arrayValue {
            out[index].1 = .array(
                values.compactMap { value in
                    switch value {
                    case .string: value
                    case .number(let text): .string(text)
                    case .bool(let flag): .string(flag ? "true" : "false")
                    default: nil
                    }
                }
            )
            if let typeIndex = out.firstIndex(where: { $0.0 == "type" }) {
                out[typeIndex].1 = "string"
            } else {
                out.insert(("type", "string"), at: 0)
            }
        }
        let type = out.first { $0.0 == "type" }?.1.stringValue?.lowercased()
        if let index = out.firstIndex(where: { $0.0 == "format" }) {
            let format = out[index].1.stringValue ?? ""
            let known: Set<String> = type == "string" ? ["enum", "date-time"] : ["int32", "int64", "float", "double"]
            if !known.contains(format) { out.remove(at: index) }
        }
        return out
    }

    /// Gemini's single `type` for a JSON Schema `type`, which may be a list including "null".
    private static func type(_ value: JSONValue) -> [(String, JSONValue)] {
        guard let types = value.arrayValue else { return [("type", value)] }
        let named = types.filter { $0.stringValue != "null" }
        var out: [(String, JSONValue)] = []
        if named.count == 1 {
            out.append(("type", named[0]))
        } else if named.count > 1 {
            out.append(("anyOf", .array(named.map { ["type": $0] })))
        }
        if named.count < types.count {
            out.append(("nullable", true))
        }
        return out
    }
}
