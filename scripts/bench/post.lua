-- wrk request: one generateContent call, authorised by BENCH_TOKEN (a simulator key or a relay token).
wrk.method = "POST"
wrk.path = "/v1beta/models/bench-model:generateContent"
wrk.body = '{"contents":[{"parts":[{"text":"benchmark request"}]}]}'
wrk.headers["Content-Type"] = "application/json"
wrk.headers["x-goog-api-key"] = os.getenv("BENCH_TOKEN")
