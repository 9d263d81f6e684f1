using DJJobNet.Tests.Infrastructure;
using Microsoft.Playwright;

namespace DJJobNet.Tests;

/// <summary>
/// samples/Permission driven in headless Chromium (Debian's chromium package) through a local OAuth dialog: connect,
/// come back, schedule an event, see the job enqueued. A forged or missing state is refused.
/// </summary>
[TestFixture]
[NonParallelizable]
public sealed class PermissionPageTests() : StoreTest("sqlite")
{
    private const string Chromium = "/usr/bin/chromium";
    private const string Secret = "app-secret-not-in-rows";
    private LocalGraph _graph = null!;
    private WorkerProcess _site = null!;
    private Uri _siteUrl = null!;
    private IPlaywright _playwright = null!;
    private IBrowser _browser = null!;

    [SetUp]
    public async Task StartSiteAndBrowser()
    {
        if (!File.Exists(Chromium))
            Assert.Fail($"{Chromium} is missing: install Debian's chromium package (apt-get install chromium); .ci/test does.");
        _graph = new LocalGraph();
        var port = Loopback.FreePort();
        _siteUrl = new Uri($"http://127.0.0.1:{port}/");
        _site = new WorkerProcess("Permission.dll", new Dictionary<string, string>
        {
            ["Facebook__AppId"] = "4242",
            ["Facebook__AppSecret"] = Secret,
            ["Facebook__GraphUrl"] = _graph.BaseUrl.ToString(),
            ["Facebook__DialogUrl"] = _graph.BaseUrl.ToString(),
            ["DJJob__ConnectionString"] = $"sqlite:{SqlitePath}",
            ["DJJob__JobsTable"] = Table,
        }, "--urls", _siteUrl.ToString());
        using var http = new HttpClient();
        var deadline = DateTime.UtcNow.AddSeconds(60);
        while (true)
        {
            try
            {
                (await http.GetAsync(_siteUrl)).EnsureSuccessStatusCode();
                break;
            }
            catch (HttpRequestException) when (DateTime.UtcNow < deadline)
            {
                await Task.Delay(100); // the site is still starting; nothing to await but its port
            }
            catch (HttpRequestException e)
            {
                Assert.Fail($"samples/Permission did not start: {e.Message}\n{_site.Output}");
            }
        }
        _playwright = await Playwright.CreateAsync();
        _browser = await _playwright.Chromium.LaunchAsync(new BrowserTypeLaunchOptions
        {
            ExecutablePath = Chromium,
            Headless = true,
            Args = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
        });
    }

    [TearDown]
    public async Task StopAll()
    {
        if (_browser is not null) await _browser.DisposeAsync();
        _playwright?.Dispose();
        _site?.Dispose();
        if (_graph is not null) await _graph.DisposeAsync();
    }

    [Test]
    public async Task AUser_Connects_ComesBack_AndSchedulesAnEvent_WhichIsEnqueued()
    {
        var page = await _browser.NewPageAsync();
        await page.GotoAsync(_siteUrl.ToString());

        await page.ClickAsync("#connect");
        await page.WaitForURLAsync(new Uri(_graph.BaseUrl, "v24.0/dialog/oauth").ToString() + "**");
        Assert.That(await page.TextContentAsync("body"), Does.Contain("App 4242 asks for: create_event,rsvp_event"));

        await page.ClickAsync("#allow");
        await page.WaitForSelectorAsync("#connected");
        var exchange = _graph.Requests.Single(r => r.Path == "/v24.0/oauth/access_token");
        Assert.That(exchange.Query["client_secret"], Is.EqualTo(Secret));
        Assert.That(exchange.Query["redirect_uri"], Is.EqualTo(new Uri(_siteUrl, "callback").ToString()));

        await page.FillAsync("input[name=name]", "Fête 🎉 Zürich");
        await page.FillAsync("input[name=start]", "2027-01-15T19:30:00+01:00");
        await page.FillAsync("input[name=location]", "Zürich");
        await page.ClickAsync("#schedule");
        var scheduled = await page.TextContentAsync("#scheduled");

        Assert.That(scheduled, Does.Match("Scheduled \"Fête 🎉 Zürich\" as job [0-9]+\\."));
        var id = long.Parse(System.Text.RegularExpressions.Regex.Match(scheduled!, "job ([0-9]+)").Groups[1].Value);
        var handler = Row(id)!.Handler;
        Assert.That(handler, Does.Contain("DJJobNet.Facebook.Calendar").And.Contain("user-token-from-code").And.Contain("Fête 🎉 Zürich"));
        Assert.That(handler, Does.Not.Contain(Secret));
        Assert.That(_graph.Requests.Any(r => r.Path.EndsWith("/me/events", StringComparison.Ordinal)), Is.False, "the site only enqueues");
    }

    [TestCase("forged")]
    [TestCase(null)]
    public async Task TheCallback_RefusesAForgedOrMissingState(string? state)
    {
        var page = await _browser.NewPageAsync();
        await page.GotoAsync(_siteUrl.ToString());
        await page.ClickAsync("#connect"); // a real state is now in the cookie
        await page.WaitForURLAsync(new Uri(_graph.BaseUrl, "v24.0/dialog/oauth").ToString() + "**");

        var response = await page.GotoAsync(new Uri(_siteUrl, "callback?code=stolen" + (state is null ? "" : $"&state={state}")).ToString());

        Assert.That(response!.Status, Is.EqualTo(400));
        Assert.That(await page.TextContentAsync("#error"), Does.Contain("state does not match"));
        Assert.That(_graph.Requests.Any(r => r.Path.Contains("access_token", StringComparison.Ordinal)), Is.False, "the code was not exchanged");
    }
}
