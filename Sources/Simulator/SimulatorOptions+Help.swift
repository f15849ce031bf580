extension SimulatorOptions {
    /// The `keyrelay simulate --help` text.
    public static let helpText = """
        USAGE: keyrelay simulate --keys K1,K2,… [--vertex-keys K3,…] [options]

        A Gemini-compatible upstream for demos, tests and benchmarks. It serves /v1beta and /v1
        (Gemini API) and /v1beta1/publishers/google/models and /v1/publishers/google/models
        (Vertex AI Express) and /v1beta/openai/ (chat/completions, embeddings, models; key as
        "Authorization: Bearer"), enforces per-key limits in fixed UTC-minute windows and Pacific
        days, and answers with Google's bodies. Control endpoints: GET /simulator/stats,
        POST /simulator/reset, GET /simulator/last-request, POST /simulator/faults.

        OPTIONS:
          --listen HOST:PORT          Address to listen on (default 127.0.0.1:18080).
          --keys K1,K2,…|@file        Accepted keys, separated by commas or newlines (required).
                                      Any other key gets 400 API_KEY_INVALID.
          --vertex-keys K1,K2,…|@file Keys accepted only on Vertex paths; with it, --keys keys are
                                      refused there (400 API_KEY_INVALID) and these on Gemini paths.
                                      Without it, Vertex paths accept --keys. --keys may be left
                                      out when this is given.
          --rpm N                     Requests per minute per key and model (default unlimited).
          --tpm N                     Input tokens per minute per key and model (default unlimited).
          --rpd N                     Requests per Pacific day per key and model (default unlimited).
          --rate-limits JSON|@file    Tier → model prefix → {"rpm","tpm","rpd"}, the relay's table shape;
                                      replaces --rpm/--tpm/--rpd, unlisted models are unlimited.
          --quota-tier NAME           Tier of --rate-limits to apply (default "Free Tier").
          --latency-ms N              Wait before answering a model request (default 0).
          --chunks N                  Chunks per streamed answer, 1...1000 (default 3).
          --chunk-delay-ms N          Wait between stream chunks (default 0).
          --error-rate R              Share of model requests answered with an injected error, 0...1
                                      (default 0).
          --error-status S            Status of injected errors: 429, 500, 503, 504 (default 503).
          --daily-exhausted-keys K,…  These keys answer a per-day 429 (any of --keys or --vertex-keys).
          --no-quota-keys K,…         These keys answer a 429 with quotaValue "0" (model not in tier).
          --suspended-keys K,…        These keys answer 403 CONSUMER_SUSPENDED.
          --seed N                    Seed for error injection (default random).
          -h, --help                  Show this text.

        Prompt markers: [[invalid-argument]] → 400, [[block]] → blocked prompt,
        [[safety]] → finishReason SAFETY without content, [[max-tokens]] → finishReason MAX_TOKENS
        with the budget spent on thoughts, [[stream-error]] → an INTERNAL error event after the
        first stream chunk, [[stream-drop]] → the stream body ends after its first chunk,
        [[sse-split]] → each SSE event is sent in two writes 20 ms apart.
        Requests declaring function tools get a functionCall of the first function (OpenAI:
        tool_calls); a functionResponse (OpenAI: a "tool" message) gets "Result of NAME: {…}".
        generationConfig.candidateCount (OpenAI: n) gives that many candidates (at most 8).
        A model name containing "notfound" gets 404 NOT_FOUND.

        """
}
