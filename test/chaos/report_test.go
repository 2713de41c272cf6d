package chaos

import (
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/auditpull/auditpull/test/bench/hostrun"
)

// printReport prints the suite's figures as aligned tables.
func printReport(w io.Writer, s settings, rep *report, logLines, procs, secretHits int) {
	fmt.Fprintf(w, "\nCrash suite: SIGKILL at random moments (%s–%s after start) during a NordPass backfill, restart, repeat; seed %d\n",
		minUptime, maxUptime, s.seed)
	kt := [][]string{{"host", "kills", "events", "written", "lost", "re-delivered", "per kill: mean", "max", "mean pages", "kills ≤ 1 page", "mid-backfill", "torn lines", "last run's end", "time"}}
	slices.SortFunc(rep.kills, func(a, b killResult) int { return strings.Compare(string(a.host), string(b.host)) })
	for _, r := range rep.kills {
		total, most, within := 0, 0, 0
		for _, n := range r.redelivered {
			total += n
			most = max(most, n)
			if n <= pageSize {
				within++
			}
		}
		mean := float64(total) / float64(max(1, len(r.redelivered)))
		kt = append(kt, []string{r.host.Title(), fmt.Sprint(r.kills), fmt.Sprint(r.events), fmt.Sprint(r.lines), fmt.Sprint(r.lost),
			fmt.Sprint(total), fmt.Sprintf("%.1f", mean), fmt.Sprint(most), fmt.Sprintf("%.2f", mean/pageSize),
			fmt.Sprintf("%d/%d", within, len(r.redelivered)), fmt.Sprintf("%d/%d", r.midBackfill, r.kills),
			fmt.Sprint(r.torn), r.stop, r.wall.Round(1e9).String()})
	}
	hostrun.PrintTable(w, kt)
	fmt.Fprintf(w, "re-delivered = events written again by the run after a kill (pages of %d); de-duplicated by content, counting copies\n", pageSize)
	fmt.Fprintf(w, "as the history holds them, the union is exactly the history: 0 duplicates, 0 lost.")
	if len(rep.kills) > 0 && rep.kills[0].identical > 0 {
		fmt.Fprintf(w, " (De-duplicating on event_id instead would also drop\n%d genuine events: NordPass ids are content hashes, and the history holds byte-identical events.)", rep.kills[0].identical)
	}
	fmt.Fprintln(w)

	if len(rep.faults) > 0 {
		fmt.Fprintf(w, "\nFault suite: %.0f%% of requests faulted (5xx, 429, resets, truncated and invalid JSON, slow and timed-out answers), %d organizations per process\n", faultRate*100, faultOrgs)
		ft := [][]string{{"host", "events", "requests", "faults", "lost", "twice", "time", "faults by kind"}}
		for _, r := range rep.faults {
			ft = append(ft, []string{r.host.Title(), fmt.Sprint(r.events), fmt.Sprint(r.requests), fmt.Sprint(r.faults),
				fmt.Sprint(r.lost), fmt.Sprint(r.dups), r.wall.Round(1e9).String(), kinds(r.injected)})
		}
		hostrun.PrintTable(w, ft)
	}
	fmt.Fprintf(w, "\nSecrets: %d log lines of %d host processes (the runs above, and one per host with a refused token) searched for\nboth tokens: %d hits\n\n", logLines, procs, secretHits)
}
