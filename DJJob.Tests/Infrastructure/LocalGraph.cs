using System.Collections.Concurrent;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace DJJobNet.Tests.Infrastructure;

/// <summary>A request the local Graph received.</summary>
public sealed record GraphRequest(string Method, string Path, IReadOnlyDictionary<string, string> Form, IReadOnlyDictionary<string, string> Query);

/// <summary>
/// A real HTTP server on 127.0.0.1 standing in for the Graph API (<c>POST /{version}/me/events</c>,
/// <c>GET /{version}/oauth/access_token</c>) and Facebook's OAuth dialog (<c>GET /{version}/dialog/oauth</c>, a page with
/// an "Allow" link back to the application). It records every request and answers from a queue.
/// </summary>
public sealed class LocalGraph : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly ConcurrentQueue<Func<HttpContext, Task>> _answers = new();

    public LocalGraph()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        _app = builder.Build();
        _app.MapPost("/{version}/me/events", async context =>
        {
            var form = await context.Request.ReadFormAsync();
            Record(context, form.ToDictionary(f => f.Key, f => f.Value.ToString()));
            await NextAnswer(context, """{"id":"1234567890"}""");
        });
        _app.MapGet("/{version}/oauth/access_token", async context =>
        {
            Record(context, new Dictionary<string, string>());
            await NextAnswer(context, """{"access_token":"user-token-from-code","token_type":"bearer","expires_in":5183944}""");
        });
        _app.MapGet("/{version}/dialog/oauth", async context =>
        {
            Record(context, new Dictionary<string, string>());
            var q = context.Request.Query;
            var back = $"{q["redirect_uri"]}?code=code-{Guid.NewGuid():N}&state={Uri.EscapeDataString(q["state"].ToString())}";
            context.Response.ContentType = "text/html";
            await context.Response.WriteAsync(
                $"<html><body><h1>Local Facebook</h1><p>App {q["client_id"]} asks for: {q["scope"]}</p><a id=\"allow\" href=\"{System.Net.WebUtility.HtmlEncode(back)}\">Allow</a></body></html>");
        });
        _app.StartAsync().GetAwaiter().GetResult();
        var address = _app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        BaseUrl = new Uri(address.TrimEnd('/') + "/");
    }

    public Uri BaseUrl { get; }

    public ConcurrentQueue<GraphRequest> Requests { get; } = new();

    /// <summary>The next request gets this status and body (then the default success answer again).</summary>
    public void AnswerNext(int status, string body, TimeSpan delay = default) =>
        _answers.Enqueue(async context =>
        {
            if (delay > TimeSpan.Zero) await Task.Delay(delay);
            context.Response.StatusCode = status;
            context.Response.ContentType = body.StartsWith('{') ? "application/json" : "text/plain";
            await context.Response.WriteAsync(body);
        });

    private void Record(HttpContext context, Dictionary<string, string> form) =>
        Requests.Enqueue(new GraphRequest(context.Request.Method, context.Request.Path,
            form, context.Request.Query.ToDictionary(q => q.Key, q => q.Value.ToString())));

    private async Task NextAnswer(HttpContext context, string success)
    {
        if (_answers.TryDequeue(out var answer))
        {
            await answer(context);
            return;
        }
        context.Response.ContentType = "application/json";
        await context.Response.WriteAsync(success);
    }

    public async ValueTask DisposeAsync() => await _app.DisposeAsync();
}
