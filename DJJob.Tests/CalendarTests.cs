using System.Security.Cryptography;
using System.Text;
using DJJobNet.Facebook;
using DJJobNet.Tests.Infrastructure;

namespace DJJobNet.Tests;

/// <summary>The Calendar job against a local Graph API on 127.0.0.1, and run by a worker on both stores.</summary>
[TestFixture("mysql")]
[TestFixture("sqlite")]
[TestFixture("mysql", "fastest")]
[TestFixture("sqlite", "fastest")]
public sealed class CalendarTests(string driver, string settings = "default") : StoreTest(driver, settings)
{
    private const string Secret = "app-secret-never-stored";
    private LocalGraph _graph = null!;
    private readonly List<(Calendar Job, string Id)> _created = [];

    [SetUp]
    public void StartGraph()
    {
        _graph = new LocalGraph();
        _created.Clear();
        Configure();
        DJJob.Configure(IsMySql ? ConnectionString : $"sqlite:{SqlitePath}", Table);
        // The static API enqueues on the real clock; the worker's fake clock starts just after it.
        Clock.SetUtcNow(DateTimeOffset.UtcNow.AddSeconds(1));
    }

    [TearDown]
    public async Task StopGraph() => await _graph.DisposeAsync();

    private void Configure(TimeSpan? timeout = null, Uri? graphUrl = null) => FacebookGraph.Configure(new FacebookOptions
    {
        GraphUrl = graphUrl ?? _graph.BaseUrl,
        DialogUrl = _graph.BaseUrl,
        ApiVersion = "v24.0",
        AppId = "4242",
        AppSecret = Secret,
        Timeout = timeout ?? TimeSpan.FromSeconds(30),
        EventCreated = (job, id) => _created.Add((job, id)),
    });

    private static Calendar Party() => new()
    {
        Name = "Fête 🎉 Zürich",
        StartTime = new DateTimeOffset(2027, 1, 15, 19, 30, 0, TimeSpan.FromHours(1)),
        EndTime = new DateTimeOffset(2027, 1, 15, 23, 0, 0, TimeSpan.FromHours(1)),
        Description = "New year party",
        Location = "Zürich",
        PrivacyType = "FRIENDS",
        AccessToken = "user-token",
    };

    private static string Proof(string token) =>
        Convert.ToHexStringLower(HMACSHA256.HashData(Encoding.UTF8.GetBytes(Secret), Encoding.UTF8.GetBytes(token)));

    [Test]
    public void Send_PostsTheEventToMeEvents_WithEveryFieldAndTheAppSecretProof()
    {
        var id = Party().Send();

        Assert.That(id, Is.EqualTo("1234567890"));
        var request = _graph.Requests.Single();
        Assert.That(request.Method, Is.EqualTo("POST"));
        Assert.That(request.Path, Is.EqualTo("/v24.0/me/events"));
        Assert.That(request.Form, Is.EquivalentTo(new Dictionary<string, string>
        {
            ["name"] = "Fête 🎉 Zürich",
            ["start_time"] = "2027-01-15T19:30:00+01:00",
            ["end_time"] = "2027-01-15T23:00:00+01:00",
            ["description"] = "New year party",
            ["location"] = "Zürich",
            ["privacy_type"] = "FRIENDS",
            ["access_token"] = "user-token",
            ["appsecret_proof"] = Proof("user-token"),
        }));
    }

    [Test]
    public void StartTimes_GivenInUtcOrWithAnOffset_ReachGraphAsTheSameInstant()
    {
        var utc = Party();
        utc.StartTime = new DateTime(2027, 1, 15, 18, 30, 0, DateTimeKind.Utc);
        var tokyo = Party();
        tokyo.StartTime = new DateTimeOffset(2027, 1, 16, 3, 30, 0, TimeSpan.FromHours(9));
        utc.SendLater();
        tokyo.SendLater();

        Worker(count: 2).Start();

        var sent = _graph.Requests.Select(r => DateTimeOffset.Parse(r.Form["start_time"], System.Globalization.CultureInfo.InvariantCulture)).ToList();
        Assert.That(sent, Has.Count.EqualTo(2));
        Assert.That(sent[0].UtcDateTime, Is.EqualTo(sent[1].UtcDateTime));
        Assert.That(sent[0].UtcDateTime, Is.EqualTo(new DateTime(2027, 1, 15, 18, 30, 0)));
    }

    [Test]
    public void SendLater_StoresNeitherSecretNorClient_AndAWorkerCreatesTheEventAndReportsItsId()
    {
        var party = Party();
        var id = party.SendLater();

        var handler = Row(id)!.Handler;
        Assert.That(handler, Does.Not.Contain(Secret).And.Contain("user-token").And.Contain("DJJobNet.Facebook.Calendar, DJJob.Calendar"));
        Assert.That(_graph.Requests, Is.Empty, "nothing is sent before a worker runs");

        Worker(count: 1).Start();

        Assert.That(_graph.Requests.Single().Form["appsecret_proof"], Is.EqualTo(Proof("user-token")));
        Assert.That(Row(id), Is.Null);
        Assert.That(_created.Single().Id, Is.EqualTo("1234567890"));
        Assert.That(_created.Single().Job.Name, Is.EqualTo(party.Name));
    }

    [TestCase(190, "OAuthException", "Error validating access token: Session has expired.")]
    [TestCase(10, "OAuthException", "Application does not have permission for this action")]
    [TestCase(200, "OAuthException", "Permissions error")]
    [TestCase(100, "GraphMethodException", "Invalid parameter")]
    [TestCase(12, "GraphMethodException", "(#12) Creating events through the API is deprecated for versions v2.4 and higher")]
    public void APermanentGraphError_FailsTheJobAfterOneAttempt_WithGraphsCodeAndMessage(int code, string type, string message)
    {
        _graph.AnswerNext(400, $$$"""{"error":{"message":"{{{message}}}","type":"{{{type}}}","code":{{{code}}},"error_subcode":460,"fbtrace_id":"AbCdEf"}}""");
        var id = Party().SendLater();

        Worker(count: 1).Start();

        var row = Row(id)!;
        Assert.That(row.Attempts, Is.EqualTo(1));
        Assert.That(row.FailedAt, Is.Not.Null);
        Assert.That(row.Error, Is.EqualTo($"Facebook Graph error {code}/460: {message} (type {type}, HTTP 400, fbtrace_id AbCdEf)"));
        Assert.That(_created, Is.Empty);
    }

    [Test]
    public void A503_IsRetriedLaterWithBackoff_ThenSucceeds()
    {
        _graph.AnswerNext(503, "Service Unavailable");
        var id = Party().SendLater();

        Worker(count: 1).Start();
        var row = Row(id)!;
        Assert.That(row.Attempts, Is.EqualTo(1));
        Assert.That(row.FailedAt, Is.Null);
        Assert.That(row.RunAt, Is.EqualTo(Now.AddSeconds(6)).Within(TimeSpan.FromMilliseconds(1)));
        Assert.That(row.Error, Does.Contain("HTTP 503"));

        Clock.Advance(TimeSpan.FromSeconds(6));
        Worker(count: 1).Start();

        Assert.That(Row(id), Is.Null);
        Assert.That(_graph.Requests, Has.Count.EqualTo(2));
        Assert.That(_created, Has.Count.EqualTo(1));
    }

    [TestCase(429, 4, "Application request limit reached")]
    [TestCase(400, 17, "User request limit reached")]
    [TestCase(400, 32, "Page request limit reached")]
    [TestCase(400, 613, "Calls to this api have exceeded the rate limit.")]
    [TestCase(500, 2, "An unexpected error has occurred.")]
    public void RateLimitsAndServerErrors_AreRetried(int status, int code, string message)
    {
        _graph.AnswerNext(status, $$$"""{"error":{"message":"{{{message}}}","type":"OAuthException","code":{{{code}}}}}""");
        var id = Party().SendLater();

        Worker(count: 1).Start();

        var row = Row(id)!;
        Assert.That(row.FailedAt, Is.Null);
        Assert.That(row.Attempts, Is.EqualTo(1));
        Assert.That(row.Error, Does.Contain(message));
    }

    [Test]
    public void ATimeout_IsRetried()
    {
        Configure(timeout: TimeSpan.FromMilliseconds(300));
        _graph.AnswerNext(200, """{"id":"late"}""", delay: TimeSpan.FromSeconds(3));
        var id = Party().SendLater();

        Worker(count: 1).Start();

        var row = Row(id)!;
        Assert.That(row.FailedAt, Is.Null);
        Assert.That(row.Attempts, Is.EqualTo(1));
    }

    [Test]
    public void ANetworkError_IsRetried()
    {
        Configure(graphUrl: new Uri("http://127.0.0.1:1/"));
        var id = Party().SendLater();

        Worker(count: 1).Start();

        var row = Row(id)!;
        Assert.That(row.FailedAt, Is.Null);
        Assert.That(row.Attempts, Is.EqualTo(1));
        Assert.That(row.Error, Is.Not.Empty);
    }

    [Test]
    public void GetLoginUrl_AsksForTheCalendarScopes_WithStateAndRedirect()
    {
        var state = FacebookHelper.NewState();
        var url = FacebookHelper.GetLoginUrl("http://127.0.0.1:5000/callback", state);

        Assert.That(url.GetLeftPart(UriPartial.Path), Is.EqualTo(new Uri(_graph.BaseUrl, "v24.0/dialog/oauth").ToString()));
        var query = Microsoft.AspNetCore.WebUtilities.QueryHelpers.ParseQuery(url.Query);
        Assert.That(query["client_id"].ToString(), Is.EqualTo("4242"));
        Assert.That(query["redirect_uri"].ToString(), Is.EqualTo("http://127.0.0.1:5000/callback"));
        Assert.That(query["scope"].ToString(), Is.EqualTo("create_event,rsvp_event"));
        Assert.That(query["state"].ToString(), Is.EqualTo(state));
    }

    [Test]
    public async Task ExchangeCode_ReturnsTheUsersToken()
    {
        var token = await FacebookHelper.ExchangeCodeAsync("the-code", "http://127.0.0.1:5000/callback");

        Assert.That(token, Is.EqualTo("user-token-from-code"));
        var request = _graph.Requests.Single();
        Assert.That(request.Path, Is.EqualTo("/v24.0/oauth/access_token"));
        Assert.That(request.Query, Is.EquivalentTo(new Dictionary<string, string>
        {
            ["client_id"] = "4242", ["redirect_uri"] = "http://127.0.0.1:5000/callback", ["client_secret"] = Secret, ["code"] = "the-code",
        }));
    }

    [Test]
    public async Task ExchangeCode_ThrowsGraphsError_ForABadCode()
    {
        _graph.AnswerNext(400, """{"error":{"message":"Invalid verification code format.","type":"OAuthException","code":100,"fbtrace_id":"X"}}""");
        var error = await Assert.ThrowsAsync<FacebookGraphException>(() => FacebookHelper.ExchangeCodeAsync("bad", "http://127.0.0.1/cb"));
        Assert.That(error!.Code, Is.EqualTo(100));
        Assert.That(error.GraphMessage, Is.EqualTo("Invalid verification code format."));
    }

    [TestCase("abc", "abc", true)]
    [TestCase("abc", "abd", false)]
    [TestCase("abc", null, false)]
    [TestCase(null, null, false)]
    [TestCase("", "", false)]
    public void IsStateValid_AcceptsOnlyTheStateThatWasSent(string? sent, string? returned, bool valid)
    {
        Assert.That(FacebookHelper.IsStateValid(sent, returned), Is.EqualTo(valid));
    }

    [Test]
    public void AFailingEventCreatedCallback_FailsTheJobForGood_NeverCreatingTheEventTwice()
    {
        FacebookGraph.Configure(new FacebookOptions
        {
            GraphUrl = _graph.BaseUrl, AppSecret = Secret, EventCreated = (_, _) => throw new InvalidOperationException("database full"),
        });
        var id = Party().SendLater();

        Worker(count: 1).Start();

        var row = Row(id)!;
        Assert.That(row.FailedAt, Is.Not.Null);
        Assert.That(row.Error, Is.EqualTo("Facebook event 1234567890 was created, but EventCreated threw: database full"));
        Assert.That(_graph.Requests, Has.Count.EqualTo(1));
    }

    [Test]
    public void ASuccessWithoutAnId_IsNotRetried()
    {
        _graph.AnswerNext(200, """{"success":true}""");
        var id = Party().SendLater();

        Worker(count: 1).Start();

        Assert.That(Row(id)!.FailedAt, Is.Not.Null);
        Assert.That(Row(id)!.Error, Does.StartWith("Graph accepted the event but sent no id"));
    }
}
