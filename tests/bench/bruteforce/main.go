// Command bruteforce is the login brute force of tests/bench/loginflood.sh:
// it guesses the admin console's password through its login form, at a
// given rate, from one or many loopback source addresses, and prints what
// the console answered.
//
//	bruteforce -url http://127.0.0.1:PORT/ -rate 500 -sources 1000 -duration 10s
//	bruteforce -hash PASSWORD     prints a bcrypt hash of PASSWORD (cost 10)
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/crypto/bcrypt"
)

func main() {
	base := flag.String("url", "", "the admin console's URL")
	rate := flag.Int("rate", 500, "guesses a second in all (0: as fast as the connections go)")
	conns := flag.Int("conns", 8, "guesses in flight at once")
	sources := flag.Int("sources", 1, "loopback source addresses to spread the guesses over (127.0.x.y)")
	duration := flag.Duration("duration", 10*time.Second, "how long to guess")
	hash := flag.String("hash", "", "print a bcrypt hash of this password and exit")
	flag.Parse()
	if *hash != "" {
		h, err := bcrypt.GenerateFromPassword([]byte(*hash), bcrypt.DefaultCost)
		if err != nil {
			fail(err)
		}
		fmt.Println(string(h))
		return
	}
	if *base == "" || *conns < 1 || *sources < 1 || *sources > 60000 || *rate < 0 {
		fail(fmt.Errorf("want -url, -conns ≥ 1, -sources 1–60000, -rate ≥ 0"))
	}
	jar, _ := cookiejar.New(nil)
	token, err := formToken(&http.Client{Jar: jar}, *base)
	if err != nil {
		fail(err)
	}
	u, _ := url.Parse(*base)
	clients := make([]*http.Client, *sources)
	for i := range clients {
		clients[i] = client(i, *sources, jar)
	}
	ctx, cancel := context.WithTimeout(context.Background(), *duration)
	defer cancel()
	ticks := pace(ctx, *rate)
	var n atomic.Int64
	var mu sync.Mutex
	codes := map[string]int{}
	var wg sync.WaitGroup
	for range *conns {
		wg.Go(func() {
			for range ticks {
				i := n.Add(1)
				code := guess(ctx, clients[int(i)%len(clients)], u, token, i)
				mu.Lock()
				codes[code]++
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	fmt.Printf("guesses %d in %s from %d sources:", n.Load(), *duration, *sources)
	for _, c := range []string{"401", "429", "503", "403", "error"} {
		fmt.Printf(" %s=%d", c, codes[c])
	}
	fmt.Println()
}

// client sends from source i of n: 127.0.0.1 alone, or 127.0.x.y.
func client(i, n int, jar http.CookieJar) *http.Client {
	d := &net.Dialer{Timeout: 5 * time.Second}
	if n > 1 {
		d.LocalAddr = &net.TCPAddr{IP: net.IPv4(127, 0, byte(1+i/250), byte(1+i%250))}
	}
	return &http.Client{Jar: jar, Timeout: 10 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		Transport:     &http.Transport{DialContext: d.DialContext, MaxIdleConnsPerHost: 4}}
}

// pace hands out rate tokens a second until ctx is done (unlimited if 0).
func pace(ctx context.Context, rate int) <-chan struct{} {
	ch := make(chan struct{})
	go func() {
		defer close(ch)
		var tick <-chan time.Time
		if rate > 0 {
			t := time.NewTicker(time.Second / time.Duration(rate))
			defer t.Stop()
			tick = t.C
		}
		for {
			if tick != nil {
				select {
				case <-tick:
				case <-ctx.Done():
					return
				}
			}
			select {
			case ch <- struct{}{}:
			case <-ctx.Done():
				return
			}
		}
	}()
	return ch
}

var tokenRE = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// formToken loads the login form: its nonce cookie lands in the jar.
func formToken(c *http.Client, base string) (string, error) {
	resp, err := c.Get(base + "login")
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	m := tokenRE.FindSubmatch(body)
	if resp.StatusCode != 200 || m == nil {
		return "", fmt.Errorf("GET %slogin: status %d, no form token", base, resp.StatusCode)
	}
	return string(m[1]), nil
}

func guess(ctx context.Context, c *http.Client, base *url.URL, token string, i int64) string {
	form := url.Values{"csrf": {token}, "user": {"admin"}, "password": {"guess-" + strconv.FormatInt(i, 10)}}
	req, _ := http.NewRequestWithContext(ctx, "POST", base.JoinPath("login").String(), strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := c.Do(req)
	if err != nil {
		return "error"
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return strconv.Itoa(resp.StatusCode)
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "bruteforce:", err)
	os.Exit(1)
}
