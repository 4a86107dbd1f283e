// The gRPC peer of offstat's benchmark: what a platform team would deploy
// instead. It serves OffenceStats/GetCount from the same .proto, compiled
// by Google's protoc, over the same full-size open data file held in a hash
// map, and answers the way offstatd does for the benchmark's requests: the
// resolved area and offence, the figure (a year as the sum of its
// quarters, an aggregate as the sum of its forces, with coverage), flags,
// rates per 100,000 with an interval, and the source. Unlike offstatd it
// approximates the Poisson interval (Wilson-Hilferty) instead of computing
// it exactly, which only flatters it. The other methods are UNIMPLEMENTED.
//
// usage: grpc_server --data FILE.csv --catalogue DATA_DIR
//                    --listen HOST:PORT [--listen unix:PATH] [--threads N]
#include <algorithm>
#include <cctype>
#include <cmath>
#include <csignal>
#include <cstring>
#include <memory>
#include <pthread.h>
#include <string>
#include <unordered_map>
#include <vector>

#include <grpcpp/grpcpp.h>
#include <grpcpp/resource_quota.h>

#include "common.h"
#include "offstat/v1/offstat.grpc.pb.h"

namespace pb = offstat::v1;

namespace
{

struct area {
	std::string              code, name, kind, parent, pop_source;
	std::vector<std::string> aliases;
	uint64_t                 pop = 0, u18 = 0;
	int                      parent_i = -1, region = -1, country = -1;
	bool                     has_children = false;
	std::vector<int>         members;
};

struct offence {
	std::string code, description, group, subgroup, note, break_note;
	unsigned    break_year = 0;
};

// Lower case, "&" as "and", punctuation and runs of spaces dropped: the
// same reading of names as offstatd's.
std::string
normalise(const std::string &in)
{
	std::string out;
	bool        space = false;
	for (unsigned char c : in) {
		if (c == '&') {
			if (!out.empty() && !space) {
				out += ' ';
			}
			out += "and";
			space = false;
		} else if (std::isalnum(c) || c >= 0x80) {
			if (space && !out.empty()) {
				out += ' ';
			}
			out += (char)std::tolower(c);
			space = false;
		} else {
			space = true;
		}
	}
	return out;
}

std::vector<std::string>
split_list(const std::string &s)
{
	std::vector<std::string> v;
	size_t                   start = 0, semi;
	while (start <= s.size()) {
		semi            = s.find(';', start);
		std::string one = s.substr(start, semi == std::string::npos
		                                          ? std::string::npos
		                                          : semi - start);
		while (!one.empty() && one.front() == ' ') {
			one.erase(0, 1);
		}
		while (!one.empty() && one.back() == ' ') {
			one.pop_back();
		}
		if (!one.empty()) {
			v.push_back(one);
		}
		if (semi == std::string::npos) {
			break;
		}
		start = semi + 1;
	}
	return v;
}

uint64_t
cell_key(int area, int offence, unsigned year, unsigned quarter)
{
	return (uint64_t)area << 40 | (uint64_t)offence << 20 |
	       (uint64_t)year << 4 | quarter;
}

// Wilson-Hilferty approximation of the chi-square quantile.
double
chi2_quantile(double p, double v)
{
	// Acklam's rational approximation of the normal quantile would be
	// overkill: the benchmark uses 0.95 only.
	double z = p > 0.5 ? 1.959963984540054 : -1.959963984540054;
	double a = 2.0 / (9.0 * v);
	double t = 1.0 - a + z * std::sqrt(a);
	return v * t * t * t;
}

class dataset
{
      public:
	void
	load(const std::string &dir, const std::string &csv)
	{
		load_areas(dir + "/areas.csv");
		load_offences(dir + "/offences.csv");
		for (const auto &r : bench::csv_read(dir + "/sources.csv")) {
			if (r.size() >= 7 && r[0] == "ho-prc-open-data") {
				source_.set_id(r[0]);
				source_.set_kind(pb::OPEN_DATA);
				source_.set_title(r[2]);
				source_.set_publisher(r[3]);
				source_.set_published(r[4]);
				source_.set_url(r[5]);
				source_.set_note(r[6]);
			}
		}
		load_counts(csv);
	}

	size_t
	ncounts() const
	{
		return counts_.size();
	}

	grpc::Status
	get_count(const pb::GetCountRequest &in,
	          pb::GetCountResponse      *out) const
	{
		int a = find_area(in.area());
		if (a < 0) {
			return grpc::Status(grpc::StatusCode::NOT_FOUND,
			                    "unknown area '" + in.area() +
			                            "'");
		}
		auto o = offence_index_.find(in.offence());
		if (o == offence_index_.end()) {
			return grpc::Status(grpc::StatusCode::NOT_FOUND,
			                    "unknown offence '" +
			                            in.offence() + "'");
		}
		if (!in.has_period() || in.period().year() < 1990 ||
		    in.period().year() > 2100 || in.period().quarter() > 4) {
			return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
			                    "the period is required");
		}
		unsigned y = in.period().year(), q = in.period().quarter();
		area_msg(a, out->mutable_area());
		offence_msg(o->second, out->mutable_offence());
		value_msg(a, o->second, y, q, out->mutable_value());
		if (!out->value().source_id().empty()) {
			*out->add_sources() = source_;
		}
		out->set_release("2");
		return grpc::Status::OK;
	}

      private:
	std::vector<area>                      areas_;
	std::unordered_map<std::string, int>   area_code_, area_name_;
	std::vector<offence>                   offences_;
	std::unordered_map<std::string, int>   offence_index_;
	std::unordered_map<uint64_t, uint64_t> counts_;
	pb::Source                             source_;

	int
	area_index(const std::string &code) const
	{
		auto it = area_code_.find(code);
		return it == area_code_.end() ? -1 : it->second;
	}

	void
	add_name(const std::string &name, int i)
	{
		std::string k  = normalise(name);
		auto        it = area_name_.find(k);
		// A name shared by a force and a region means the force.
		if (it == area_name_.end() ||
		    (areas_[i].kind == "force" &&
		     areas_[it->second].kind != "force")) {
			area_name_[k] = i;
		}
	}

	void
	load_areas(const std::string &path)
	{
		for (const auto &r : bench::csv_read(path)) {
			area a;
			a.code    = r[0];
			a.name    = r[1];
			a.kind    = r[2];
			a.parent  = r[3];
			a.aliases = split_list(r[4]);
			a.pop     = std::strtoull(r[6].c_str(), nullptr, 10);
			a.u18     = std::strtoull(r[7].c_str(), nullptr, 10);
			a.pop_source = r.size() > 8 ? r[8] : "";
			areas_.push_back(a);
		}
		std::sort(areas_.begin(), areas_.end(),
		          [](const area &x, const area &y) {
			          return x.code < y.code;
		          });
		for (size_t i = 0; i < areas_.size(); i++) {
			area_code_[areas_[i].code] = (int)i;
		}
		for (auto &a : areas_) {
			a.parent_i = area_index(a.parent);
		}
		for (auto &a : areas_) {
			for (int p = a.parent_i; p >= 0;
			     p     = areas_[p].parent_i) {
				areas_[p].has_children = true;
				if (areas_[p].kind == "region" &&
				    a.region < 0) {
					a.region = p;
				}
				if (areas_[p].kind == "country" &&
				    a.country < 0) {
					a.country = p;
				}
			}
			if (a.region < 0 && a.kind == "force") {
				a.region = a.country;
			}
		}
		std::vector<std::vector<std::string>> rows =
		        bench::csv_read(path);
		for (size_t i = 0; i < areas_.size(); i++) {
			add_name(areas_[i].code, (int)i);
			add_name(areas_[i].name, (int)i);
			if (areas_[i].kind == "region") {
				add_name(areas_[i].name + " region", (int)i);
			}
			for (const auto &al : areas_[i].aliases) {
				add_name(al, (int)i);
			}
		}
		// Members: listed for groups, else the leaves below.
		for (const auto &r : rows) {
			int i = area_index(r[0]);
			for (const auto &m : split_list(r[5])) {
				areas_[i].members.push_back(area_index(m));
			}
		}
		for (size_t i = 0; i < areas_.size(); i++) {
			if (!areas_[i].has_children ||
			    !areas_[i].members.empty()) {
				continue;
			}
			for (size_t j = 0; j < areas_.size(); j++) {
				const area &m    = areas_[j];
				bool        leaf = !m.has_children &&
				            (m.kind == "force" ||
				             m.kind == "country");
				if (!leaf || j == i) {
					continue;
				}
				for (int p = m.parent_i; p >= 0;
				     p     = areas_[p].parent_i) {
					if (p == (int)i) {
						areas_[i].members.push_back(
						        (int)j);
						break;
					}
				}
			}
		}
	}

	void
	load_offences(const std::string &path)
	{
		for (const auto &r : bench::csv_read(path)) {
			offence o;
			o.code        = r[0];
			o.description = r[1];
			o.group       = r[2];
			o.subgroup    = r[3];
			o.break_year  = (unsigned)std::strtoul(r[4].c_str(),
			                                       nullptr, 10);
			o.break_note  = r[5];
			o.note        = r.size() > 6 ? r[6] : "";
			offence_index_[o.code] = (int)offences_.size();
			offences_.push_back(o);
		}
	}

	void
	load_counts(const std::string &path)
	{
		std::unordered_map<std::string, int> force;
		for (size_t i = 0; i < areas_.size(); i++) {
			force[areas_[i].name] = (int)i;
			for (const auto &al : areas_[i].aliases) {
				force[al] = (int)i;
			}
		}
		auto rows = bench::csv_read(path);
		counts_.reserve(rows.size() * 2);
		for (const auto &r : rows) {
			if (r.size() != 8) {
				continue;
			}
			auto f = force.find(r[2]);
			auto o = offence_index_.find(r[6]);
			if (f == force.end()) {
				continue;
			}
			if (o == offence_index_.end()) {
				offence n;
				n.code        = r[6];
				n.description = r[3];
				n.group       = r[4];
				n.subgroup    = r[5];
				o             = offence_index_
				            .emplace(n.code,
				                     (int)offences_.size())
				            .first;
				offences_.push_back(n);
			}
			unsigned y = (unsigned)std::strtoul(r[0].c_str(),
			                                    nullptr, 10);
			unsigned q = (unsigned)std::strtoul(r[1].c_str(),
			                                    nullptr, 10);
			counts_[cell_key(f->second, o->second, y, q)] =
			        std::strtoull(r[7].c_str(), nullptr, 10);
		}
	}

	int
	find_area(const std::string &name) const
	{
		int i = area_index(name);
		if (i >= 0) {
			return i;
		}
		auto it = area_name_.find(normalise(name));
		return it == area_name_.end() ? -1 : it->second;
	}

	// A force's figure: the cell, or a year as the sum of its quarters.
	bool
	direct(int a, int o, unsigned y, unsigned q, uint64_t *n,
	       unsigned *got) const
	{
		*n   = 0;
		*got = 0;
		if (q != 0) {
			auto it = counts_.find(cell_key(a, o, y, q));
			if (it == counts_.end()) {
				return false;
			}
			*n   = it->second;
			*got = 4;
			return true;
		}
		for (unsigned k = 1; k <= 4; k++) {
			auto it = counts_.find(cell_key(a, o, y, k));
			if (it != counts_.end()) {
				*n += it->second;
				(*got)++;
			}
		}
		return *got > 0;
	}

	static std::string
	label(unsigned y, unsigned q)
	{
		char buf[32];
		if (q == 0) {
			std::snprintf(buf, sizeof(buf), "%u/%02u", y,
			              (y + 1) % 100);
		} else {
			std::snprintf(buf, sizeof(buf), "%u/%02u Q%u", y,
			              (y + 1) % 100, q);
		}
		return buf;
	}

	static void
	rate(uint64_t count, uint64_t pop, const std::string &src, pb::Rate *r)
	{
		if (pop == 0) {
			return;
		}
		double k  = (double)count;
		double lo = count == 0 ? 0 : chi2_quantile(0.025, 2 * k) / 2;
		double hi = chi2_quantile(0.975, 2 * k + 2) / 2;
		r->set_known(true);
		r->set_per_100k(k / (double)pop * 1e5);
		r->set_lower(lo / (double)pop * 1e5);
		r->set_upper(hi / (double)pop * 1e5);
		r->set_population(pop);
		r->set_population_source(src);
	}

	void
	value_msg(int a, int o, unsigned y, unsigned q, pb::Value *v) const
	{
		const area &ar = areas_[a];
		uint64_t    n = 0, pop = ar.pop, u18 = ar.u18;
		unsigned    got;
		bool        present    = direct(a, o, y, q, &n, &got);
		bool        incomplete = present && got < 4;

		v->mutable_period()->set_year(y);
		v->mutable_period()->set_quarter(q);
		v->mutable_period()->set_kind(q ? pb::QUARTER
		                                : pb::FINANCIAL_YEAR);
		v->mutable_period()->set_text(label(y, q));
		if (!present && !ar.members.empty()) {
			pb::Coverage *c       = v->mutable_coverage();
			unsigned      members = 0;
			pop = u18 = 0;
			c->set_method(pb::Coverage::SUM_OF_MEMBERS);
			c->set_members_expected((uint32_t)ar.members.size());
			for (int m : ar.members) {
				uint64_t part;
				unsigned g;
				if (direct(m, o, y, q, &part, &g)) {
					n += part;
					members++;
					incomplete |= g < 4;
					pop += areas_[m].pop;
					u18 += areas_[m].u18;
				} else {
					c->add_missing(areas_[m].code);
				}
			}
			c->set_members_present(members);
			present = members > 0;
			incomplete |= present && c->missing_size() > 0;
		} else if (!ar.members.empty()) {
			v->mutable_coverage()->set_method(
			        pb::Coverage::PUBLISHED);
		}
		v->set_present(present);
		if (!present) {
			return;
		}
		v->set_count(n);
		v->set_source_id(source_.id());
		if (q == 0) {
			v->set_note(incomplete ? "sum of fewer than 4 quarters"
			                       : "sum of 4 quarters");
		}
		if (incomplete) {
			v->add_flags(pb::INCOMPLETE);
		}
		if (offences_[o].break_year != 0 &&
		    y < offences_[o].break_year) {
			v->add_flags(pb::SERIES_BREAK);
		}
		if (n < 10) {
			v->add_flags(pb::SMALL_NUMBER);
		}
		if (pop > 0) {
			rate(n, pop, ar.pop_source,
			     v->mutable_rates()->mutable_people());
			rate(n, u18, ar.pop_source,
			     v->mutable_rates()->mutable_under18());
		}
	}

	void
	area_msg(int i, pb::Area *m) const
	{
		const area &a = areas_[i];
		m->set_code(a.code);
		m->set_name(a.name);
		m->set_kind(a.kind == "force"     ? pb::FORCE
		            : a.kind == "region"  ? pb::REGION
		            : a.kind == "country" ? pb::COUNTRY
		            : a.kind == "group"   ? pb::GROUP
		            : a.kind == "nation"  ? pb::NATION
		                                  : pb::BODY);
		if (a.parent_i >= 0) {
			m->set_parent_code(areas_[a.parent_i].code);
		}
		if (a.region >= 0) {
			m->set_region_code(areas_[a.region].code);
		}
		if (a.country >= 0) {
			m->set_country_code(areas_[a.country].code);
		}
		for (const auto &al : a.aliases) {
			m->add_aliases(al);
		}
		m->set_population(a.pop);
		m->set_population_under18(a.u18);
		m->set_population_source(a.pop_source);
		for (int k : a.members) {
			m->add_members(areas_[k].code);
		}
	}

	void
	offence_msg(int i, pb::Offence *m) const
	{
		const offence &o = offences_[i];
		m->set_code(o.code);
		m->set_description(o.description);
		m->set_group(o.group);
		m->set_subgroup(o.subgroup);
		m->set_note(o.note);
		if (o.break_year != 0) {
			pb::SeriesBreak *b = m->add_breaks();
			b->set_year(o.break_year);
			b->set_note(o.break_note);
		}
	}
};

class service final : public pb::OffenceStats::CallbackService
{
      public:
	explicit service(const dataset &d) : d_(d)
	{
	}

	grpc::ServerUnaryReactor *
	GetCount(grpc::CallbackServerContext *ctx,
	         const pb::GetCountRequest   *in,
	         pb::GetCountResponse        *out) override
	{
		grpc::ServerUnaryReactor *r = ctx->DefaultReactor();
		r->Finish(d_.get_count(*in, out));
		return r;
	}

	grpc::ServerUnaryReactor *
	ServerInfo(grpc::CallbackServerContext *ctx,
	           const pb::ServerInfoRequest *,
	           pb::ServerInfoResponse *out) override
	{
		grpc::ServerUnaryReactor *r = ctx->DefaultReactor();
		out->set_api("offstat.v1");
		out->set_counts(d_.ncounts());
		r->Finish(grpc::Status::OK);
		return r;
	}

      private:
	const dataset &d_;
};

} // namespace

int
main(int argc, char **argv)
{
	std::vector<std::string> listen;
	std::string              data, catalogue;
	sigset_t                 sigs;
	int                      sig;

	for (int i = 1; i + 1 < argc; i += 2) {
		std::string opt = argv[i];
		if (opt == "--listen") {
			listen.push_back(argv[i + 1]);
		} else if (opt == "--data") {
			data = argv[i + 1];
		} else if (opt == "--catalogue") {
			catalogue = argv[i + 1];
		} else {
			std::fprintf(stderr,
			             "grpc_server: unknown option %s\n",
			             argv[i]);
			return 2;
		}
	}
	if (listen.empty() || data.empty() || catalogue.empty() ||
	    argc % 2 != 1) {
		std::fprintf(stderr,
		             "usage: grpc_server --data FILE.csv --catalogue "
		             "DATA_DIR --listen ADDR [--listen ADDR]\n");
		return 2;
	}
	// Signals go to sigwait below, not to gRPC's threads.
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &sigs, nullptr);

	dataset d;
	d.load(catalogue, data);
	service             svc(d);
	grpc::ServerBuilder b;
	for (const auto &l : listen) {
		b.AddListeningPort(l, grpc::InsecureServerCredentials());
	}
	b.SetMaxReceiveMessageSize(1 << 20);
	b.RegisterService(&svc);
	std::unique_ptr<grpc::Server> server = b.BuildAndStart();
	if (!server) {
		std::fprintf(stderr, "grpc_server: cannot listen\n");
		return 1;
	}
	do {
		if (sigwait(&sigs, &sig) != 0) {
			sig = SIGTERM;
		}
	} while (sig != SIGINT && sig != SIGTERM);
	server->Shutdown();
	return 0;
}
