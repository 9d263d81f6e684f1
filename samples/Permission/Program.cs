// The seed's permission.php as a small ASP.NET Core app: "Connect" sends the user to Facebook's OAuth dialog asking for
// create_event,rsvp_event; /callback checks `state`, exchanges the code and keeps the token; the form schedules an
// event with Calendar.SendLater(), which a worker (samples/Worker) posts later.
//
// Configuration (appsettings.json, or environment variables such as Facebook__AppId):
//   Facebook:AppId, Facebook:AppSecret (from your app's settings on Facebook; never in source), Facebook:RedirectUri
//   (default: this site's /callback), Facebook:GraphUrl, Facebook:DialogUrl, Facebook:ApiVersion,
//   DJJob:ConnectionString ("sqlite:file" or a MySQL connection string), DJJob:JobsTable.
using System.Collections.Concurrent;
using System.Net;
using DJJobNet;
using DJJobNet.Facebook;

var builder = WebApplication.CreateBuilder(args);
var app = builder.Build();
var config = app.Configuration;

FacebookGraph.Configure(new FacebookOptions
{
    AppId = config["Facebook:AppId"],
    AppSecret = config["Facebook:AppSecret"],
    ApiVersion = config["Facebook:ApiVersion"] ?? "v24.0",
    GraphUrl = new Uri(config["Facebook:GraphUrl"] ?? "https://graph.facebook.com/"),
    DialogUrl = new Uri(config["Facebook:DialogUrl"] ?? "https://www.facebook.com/"),
});
DJJob.Configure(config["DJJob:ConnectionString"] ?? "sqlite:djjob-sample.db", config["DJJob:JobsTable"] ?? "jobs");
DJJob.Install();

// Tokens live on the server, keyed by a random session cookie; a real application keeps them in its user store.
var tokens = new ConcurrentDictionary<string, string>();
const string StateCookie = "djjob_oauth_state", SessionCookie = "djjob_session";
var cookie = new CookieOptions { HttpOnly = true, SameSite = SameSiteMode.Lax, IsEssential = true };

string RedirectUri(HttpRequest request) => config["Facebook:RedirectUri"] is { Length: > 0 } uri ? uri : $"{request.Scheme}://{request.Host}/callback";
string? TokenOf(HttpRequest request) => request.Cookies[SessionCookie] is { } session && tokens.TryGetValue(session, out var token) ? token : null;
IResult Page(string body, int status = 200) => Results.Content(
    $"<!doctype html><html><head><meta charset=\"utf-8\"><title>DJJob Calendar</title></head><body><h1>DJJob Calendar</h1>{body}</body></html>",
    "text/html; charset=utf-8", statusCode: status);
string E(string? text) => WebUtility.HtmlEncode(text ?? "");

app.MapGet("/", (HttpRequest request) => TokenOf(request) is null
    ? Page("""
        <p>To create events on Facebook in your name, this application needs your permission.</p>
        <a id="connect" href="/connect">Connect with Facebook</a>
        """)
    : Page($"""
        <p id="connected">Connected. Schedule an event; a worker creates it on Facebook.</p>
        <form method="post" action="/schedule">
          <label>Name <input name="name" required></label>
          <label>Start (ISO 8601 with offset) <input name="start" required value="{DateTimeOffset.Now.AddDays(7):yyyy-MM-dd'T'HH:mm:sszzz}"></label>
          <label>Description <input name="description"></label>
          <label>Location <input name="location"></label>
          <label>Privacy <select name="privacy"><option>SECRET</option><option>FRIENDS</option><option>OPEN</option></select></label>
          <button id="schedule" type="submit">Schedule</button>
        </form>
        """));

app.MapGet("/connect", (HttpContext context) =>
{
    var state = FacebookHelper.NewState();
    context.Response.Cookies.Append(StateCookie, state, cookie);
    return Results.Redirect(FacebookHelper.GetLoginUrl(RedirectUri(context.Request), state).ToString());
});

app.MapGet("/callback", async (HttpContext context, string? code, string? state, string? error_description) =>
{
    var expected = context.Request.Cookies[StateCookie];
    context.Response.Cookies.Delete(StateCookie);
    if (!FacebookHelper.IsStateValid(expected, state))
        return Page("<p id=\"error\">Refused: the state does not match the one this site sent (a forged or replayed request).</p>", 400);
    if (string.IsNullOrEmpty(code))
        return Page($"<p id=\"error\">Facebook did not grant the permission: {E(error_description)}</p>", 400);
    string token;
    try
    {
        token = await FacebookHelper.ExchangeCodeAsync(code, RedirectUri(context.Request), context.RequestAborted);
    }
    catch (Exception e) when (e is FacebookGraphException or HttpRequestException)
    {
        return Page($"<p id=\"error\">Facebook refused the code: {E(e.Message)}</p>", 502);
    }
    var session = FacebookHelper.NewState();
    tokens[session] = token;
    context.Response.Cookies.Append(SessionCookie, session, cookie);
    return Results.Redirect("/");
});

app.MapPost("/schedule", (HttpRequest request, IFormCollection form) =>
{
    var token = TokenOf(request);
    if (token is null) return Page("<p id=\"error\">Connect with Facebook first.</p>", 401);
    if (!DateTimeOffset.TryParse(form["start"], System.Globalization.CultureInfo.InvariantCulture, System.Globalization.DateTimeStyles.None, out var start))
        return Page($"<p id=\"error\">Start time '{E(form["start"])}' is not an ISO 8601 time.</p>", 400);
    var calendar = new Calendar
    {
        Name = form["name"].ToString(),
        StartTime = start,
        Description = form["description"],
        Location = form["location"],
        PrivacyType = form["privacy"].ToString() is { Length: > 0 } privacy ? privacy : "SECRET",
        AccessToken = token,
    };
    var id = calendar.SendLater();
    return Page($"<p id=\"scheduled\">Scheduled \"{E(calendar.Name)}\" as job {id}.</p><a href=\"/\">Schedule another</a>");
}).DisableAntiforgery();

app.Run();
