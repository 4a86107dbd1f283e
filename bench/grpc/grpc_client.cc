// The gRPC peer's load client: GetCount with N calls in flight on one
// channel, driven by completion queues, printing the same key=value line
// as loadgen --kv so that run.sh reads both alike.
//
// usage: grpc_client --target ADDR --requests FILE [--inflight N]
//                    [--duration SECS] [--warmup SECS] [--threads T]
//                    [--label TEXT] [--no-check]
//        grpc_client --target ADDR --wait SECS
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <grpcpp/grpcpp.h>
#include <sys/resource.h>

#include "common.h"
#include "offstat/v1/offstat.grpc.pb.h"

namespace pb = offstat::v1;

namespace
{

uint64_t
now_ns()
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

std::vector<pb::GetCountRequest> requests;
std::atomic<bool>                recording{false}, stopping{false};
std::atomic<uint64_t>            rec_start{UINT64_MAX};
std::atomic<uint64_t>            replies{0}; // warm-up included

struct slot {
	std::unique_ptr<grpc::ClientContext> ctx;
	pb::GetCountResponse                 resp;
	grpc::Status                         status;
	std::unique_ptr<grpc::ClientAsyncResponseReader<pb::GetCountResponse>>
	         call;
	uint64_t t0        = 0;
	size_t   next      = 0;
	size_t   req_bytes = 0;
};

struct worker {
	std::vector<slot>     slots;
	std::vector<uint32_t> lat;
	uint64_t              errors = 0, bytes_in = 0, bytes_out = 0;
};

void
start(pb::OffenceStats::Stub *stub, grpc::CompletionQueue *cq, slot *s)
{
	const pb::GetCountRequest &rq = requests[s->next];
	s->next                       = (s->next + 1) % requests.size();
	s->ctx = std::make_unique<grpc::ClientContext>();
	s->resp.Clear();
	s->req_bytes = rq.ByteSizeLong();
	s->t0        = now_ns();
	s->call      = stub->PrepareAsyncGetCount(s->ctx.get(), rq, cq);
	s->call->StartCall();
	s->call->Finish(&s->resp, &s->status, s);
}

void
run(pb::OffenceStats::Stub *stub, worker *w, size_t first)
{
	grpc::CompletionQueue cq;
	size_t                active = w->slots.size();
	void                 *tag;
	bool                  ok;

	for (size_t i = 0; i < w->slots.size(); i++) {
		w->slots[i].next = (first + i) * 7919 % requests.size();
		start(stub, &cq, &w->slots[i]);
	}
	while (active > 0 && cq.Next(&tag, &ok)) {
		slot    *s  = static_cast<slot *>(tag);
		uint64_t t1 = now_ns();
		replies.fetch_add(1, std::memory_order_relaxed);
		if (recording.load() && s->t0 >= rec_start.load()) {
			if (!ok || !s->status.ok()) {
				w->errors++;
			} else {
				w->lat.push_back((uint32_t)std::min<uint64_t>(
				        t1 - s->t0, UINT32_MAX));
				w->bytes_in += s->resp.ByteSizeLong();
				w->bytes_out += s->req_bytes;
			}
		}
		if (stopping.load()) {
			active--;
			continue;
		}
		start(stub, &cq, s);
	}
	cq.Shutdown();
	while (cq.Next(&tag, &ok)) {
	}
}

double
pct(const std::vector<uint32_t> &v, double q)
{
	if (v.empty()) {
		return 0;
	}
	size_t i = std::min(v.size() - 1, (size_t)(q * (double)v.size()));
	return v[i] / 1e3;
}

int
wait_ready(const std::string &target, double secs)
{
	auto ch       = grpc::CreateChannel(target,
	                                    grpc::InsecureChannelCredentials());
	auto deadline = std::chrono::system_clock::now() +
	                std::chrono::milliseconds((long)(secs * 1e3));
	auto                   stub = pb::OffenceStats::NewStub(ch);
	grpc::ClientContext    ctx;
	pb::ServerInfoRequest  in;
	pb::ServerInfoResponse out;
	struct timespec        ts;
	ctx.set_wait_for_ready(true);
	ctx.set_deadline(deadline);
	grpc::Status st = stub->ServerInfo(&ctx, in, &out);
	clock_gettime(CLOCK_REALTIME, &ts);
	if (!st.ok()) {
		std::fprintf(stderr, "grpc_client: %s: %s\n", target.c_str(),
		             st.error_message().c_str());
		return 1;
	}
	std::printf("ready_ns=%llu\n",
	            (unsigned long long)ts.tv_sec * 1000000000ull +
	                    (unsigned long long)ts.tv_nsec);
	return 0;
}

} // namespace

int
main(int argc, char **argv)
{
	std::string target, reqfile, label;
	int         inflight = 32, threads = 1;
	double      secs = 5, warmup = 0.5, wait = 0;
	bool        check = true;

	for (int i = 1; i < argc; i += 2) {
		std::string o = argv[i];
		if (o == "--no-check") {
			check = false;
			i--;
			continue;
		}
		if (i + 1 == argc) {
			std::fprintf(stderr, "grpc_client: %s needs a value\n",
			             argv[i]);
			return 2;
		}
		std::string v = argv[i + 1];
		if (o == "--target") {
			target = v;
		} else if (o == "--requests") {
			reqfile = v;
		} else if (o == "--inflight") {
			inflight = std::max(1, std::atoi(v.c_str()));
		} else if (o == "--duration") {
			secs = std::atof(v.c_str());
		} else if (o == "--warmup") {
			warmup = std::atof(v.c_str());
		} else if (o == "--threads") {
			threads = std::max(1, std::atoi(v.c_str()));
		} else if (o == "--label") {
			label = v;
		} else if (o == "--wait") {
			wait = std::atof(v.c_str());
		} else {
			std::fprintf(stderr,
			             "grpc_client: unknown option %s\n",
			             argv[i]);
			return 2;
		}
	}
	if (target.empty() || (wait <= 0 && reqfile.empty())) {
		std::fprintf(stderr, "usage: grpc_client --target ADDR "
		                     "--requests FILE [--inflight N] "
		                     "[--duration S] [--warmup S] "
		                     "[--threads T] [--label TEXT] "
		                     "[--no-check] | --wait S\n");
		return 2;
	}
	if (wait > 0) {
		return wait_ready(target, wait);
	}
	for (const auto &r : bench::read_count_requests(reqfile)) {
		pb::GetCountRequest q;
		q.set_area(r.area);
		q.set_offence(r.offence);
		q.mutable_period()->set_year(r.year);
		q.mutable_period()->set_quarter(r.quarter);
		requests.push_back(q);
	}
	if (requests.empty()) {
		std::fprintf(stderr,
		             "grpc_client: no GetCount requests in %s\n",
		             reqfile.c_str());
		return 1;
	}
	threads = std::min(threads, inflight);

	grpc::ChannelArguments args;
	args.SetMaxReceiveMessageSize(64 << 20);
	auto ch = grpc::CreateCustomChannel(
	        target, grpc::InsecureChannelCredentials(), args);
	auto stub = pb::OffenceStats::NewStub(ch);

	// Every request once first: the timed run must not measure errors.
	for (size_t i = 0; check && i < requests.size(); i++) {
		grpc::ClientContext  ctx;
		pb::GetCountResponse out;
		ctx.set_wait_for_ready(true);
		grpc::Status st = stub->GetCount(&ctx, requests[i], &out);
		if (!st.ok()) {
			std::fprintf(
			        stderr,
			        "grpc_client: request %zu answered %d: %s\n",
			        i, (int)st.error_code(),
			        st.error_message().c_str());
			return 1;
		}
	}

	// CPU time of the run, warm-up included, as replies are.
	auto cpu_us = [] {
		struct rusage ru;
		if (getrusage(RUSAGE_SELF, &ru) != 0) {
			return 0.0;
		}
		return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) *
		               1e6 +
		       (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec);
	};
	double cpu0 = cpu_us();

	std::vector<worker>      ws(threads);
	std::vector<std::thread> ts;
	for (int t = 0; t < threads; t++) {
		ws[t].slots = std::vector<slot>(inflight / threads +
		                                (t < inflight % threads));
	}
	if (warmup <= 0) {
		rec_start = now_ns();
		recording = true;
	}
	for (int t = 0; t < threads; t++) {
		ts.emplace_back(run, stub.get(), &ws[t], (size_t)t * 1000);
	}
	if (warmup > 0) {
		std::this_thread::sleep_for(
		        std::chrono::milliseconds((long)(warmup * 1e3)));
		rec_start = now_ns();
		recording = true;
	}
	std::this_thread::sleep_for(
	        std::chrono::milliseconds((long)(secs * 1e3)));
	recording     = false;
	stopping      = true;
	uint64_t done = now_ns();
	for (auto &t : ts) {
		t.join();
	}
	double cpu = cpu_us() - cpu0;

	std::vector<uint32_t> all;
	uint64_t              err = 0, bin = 0, bout = 0;
	for (auto &w : ws) {
		all.insert(all.end(), w.lat.begin(), w.lat.end());
		err += w.errors;
		bin += w.bytes_in;
		bout += w.bytes_out;
	}
	std::sort(all.begin(), all.end());
	double elapsed = (double)(done - rec_start.load()) / 1e9;
	size_t n       = all.size();
	std::printf("%smethod=GetCount inflight=%d n=%zu errors=%llu "
	            "secs=%.3f rps=%.0f p50_us=%.1f p90_us=%.1f p99_us=%.1f "
	            "p999_us=%.1f req_bytes=%.0f rep_bytes=%.0f all=%llu "
	            "cli_cpu_us=%.1f\n",
	            label.c_str(), inflight, n, (unsigned long long)err,
	            elapsed, n / elapsed, pct(all, 0.5), pct(all, 0.9),
	            pct(all, 0.99), pct(all, 0.999), n ? (double)bout / n : 0,
	            n ? (double)bin / n : 0,
	            (unsigned long long)replies.load(),
	            replies.load() ? cpu / (double)replies.load() : 0.0);
	return 0;
}
