// Shared by the gRPC peer's server and load client: reading the CSV files
// and the request list that gen_fullsize.py writes. Benchmark code only.
#ifndef OFFSTAT_BENCH_GRPC_COMMON_H
#define OFFSTAT_BENCH_GRPC_COMMON_H

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

namespace bench
{

// Splits one RFC 4180 record; quoted fields may hold commas and "" but,
// as in every file read here, no line breaks.
inline std::vector<std::string>
csv_split(const std::string &line)
{
	std::vector<std::string> f(1);
	bool                     quoted = false;
	for (size_t i = 0; i < line.size(); i++) {
		char c = line[i];
		if (quoted) {
			if (c == '"' && i + 1 < line.size() &&
			    line[i + 1] == '"') {
				f.back() += '"';
				i++;
			} else if (c == '"') {
				quoted = false;
			} else {
				f.back() += c;
			}
		} else if (c == '"') {
			quoted = true;
		} else if (c == ',') {
			f.emplace_back();
		} else if (c != '\r' && c != '\n') {
			f.back() += c;
		}
	}
	return f;
}

// Every record after the header, split into fields.
inline std::vector<std::vector<std::string>>
csv_read(const std::string &path)
{
	std::ifstream                         in(path);
	std::string                           line;
	std::vector<std::vector<std::string>> rows;
	if (!in) {
		std::fprintf(stderr, "cannot open %s\n", path.c_str());
		std::exit(1);
	}
	std::getline(in, line);
	while (std::getline(in, line)) {
		if (!line.empty()) {
			rows.push_back(csv_split(line));
		}
	}
	return rows;
}

// The GetCount lines of a request list: area, offence, year, quarter.
struct count_request {
	std::string area;
	std::string offence;
	unsigned    year;
	unsigned    quarter;
};

inline std::vector<count_request>
read_count_requests(const std::string &path)
{
	std::ifstream              in(path);
	std::string                line;
	std::vector<count_request> v;
	if (!in) {
		std::fprintf(stderr, "cannot open %s\n", path.c_str());
		std::exit(1);
	}
	while (std::getline(in, line)) {
		std::vector<std::string> f;
		size_t                   start = 0, tab;
		while ((tab = line.find('\t', start)) != std::string::npos) {
			f.push_back(line.substr(start, tab - start));
			start = tab + 1;
		}
		f.push_back(line.substr(start));
		if (f.size() == 5 && f[0] == "GetCount") {
			v.push_back({f[1], f[2],
			             (unsigned)std::strtoul(f[3].c_str(),
			                                    nullptr, 10),
			             (unsigned)std::strtoul(f[4].c_str(),
			                                    nullptr, 10)});
		}
	}
	return v;
}

} // namespace bench

#endif
