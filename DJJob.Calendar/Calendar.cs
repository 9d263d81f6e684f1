using System.Globalization;

namespace DJJobNet.Facebook;

/// <summary>
/// The seed application's job: creates an event on Facebook in a user's name. Build it with the event and the user's
/// access token, call <see cref="SendLater"/>, and a worker posts it to the Graph API.
/// </summary>
/// <remarks>
/// The job row holds the event fields and the user's token only: never the app secret, never a client object. The
/// worker computes <c>appsecret_proof</c> from the secret given to <see cref="FacebookGraph.Configure"/>.
/// </remarks>
public sealed class Calendar : IJob
{
    /// <summary>The event's name.</summary>
    public string Name { get; set; } = "";

    /// <summary>When the event starts: an instant with its offset, sent as ISO 8601.</summary>
    public DateTimeOffset StartTime { get; set; }

    /// <summary>When the event ends, if it has an end.</summary>
    public DateTimeOffset? EndTime { get; set; }

    /// <summary>The event's description.</summary>
    public string? Description { get; set; }

    /// <summary>Where the event takes place.</summary>
    public string? Location { get; set; }

    /// <summary>Who may see the event: <c>SECRET</c>, <c>FRIENDS</c> or <c>OPEN</c>.</summary>
    /// <value>The default is <c>SECRET</c>.</value>
    public string PrivacyType { get; set; } = "SECRET";

    /// <summary>The user's access token, from the permission step.</summary>
    public string AccessToken { get; set; } = "";

    /// <summary>Enqueues this event to be created by a worker; returns the job id.</summary>
    public long SendLater(string queue = "default", DateTimeOffset? runAt = null) => DJJob.Enqueue(this, queue, runAt);

    /// <summary>Posts the event to Graph's <c>me/events</c> edge now and returns the id Facebook gave it.</summary>
    /// <exception cref="FacebookGraphException">Graph answered with an error.</exception>
    /// <exception cref="HttpRequestException">Graph could not be reached.</exception>
    public string Send()
    {
        if (string.IsNullOrWhiteSpace(Name)) throw new DJPermanentFailureException("The Calendar event has no Name.");
        if (string.IsNullOrWhiteSpace(AccessToken)) throw new DJPermanentFailureException("The Calendar event has no AccessToken.");

        var options = FacebookGraph.Options;
        var form = new List<KeyValuePair<string, string>>
        {
            new("name", Name),
            new("start_time", Iso8601(StartTime)),
            new("privacy_type", PrivacyType),
            new("access_token", AccessToken),
        };
        if (EndTime is { } end) form.Add(new("end_time", Iso8601(end)));
        if (Description is not null) form.Add(new("description", Description));
        if (Location is not null) form.Add(new("location", Location));
        if (!string.IsNullOrEmpty(options.AppSecret)) form.Add(new("appsecret_proof", FacebookGraph.AppSecretProof(AccessToken, options.AppSecret)));

        using var request = new HttpRequestMessage(HttpMethod.Post, FacebookGraph.Endpoint(options.GraphUrl, "me/events"))
        {
            Content = new FormUrlEncodedContent(form),
        };
        using var response = FacebookGraph.Http.Send(request);
        using var reader = new StreamReader(response.Content.ReadAsStream());
        var json = FacebookGraph.Read(response, reader.ReadToEnd());
        // Graph said yes: the event may exist, so this must not be retried (a retry could create it twice).
        return (string?)json["id"] ?? throw new DJPermanentFailureException($"Graph accepted the event but sent no id: {json}");
    }

    /// <summary>
    /// Sends the event. Errors that a retry cannot fix fail the job at once; others are retried with backoff. Once the
    /// event exists, nothing makes the job run again: a failing <see cref="FacebookOptions.EventCreated"/> fails it for
    /// good, with the event's id in the error.
    /// </summary>
    public void Perform()
    {
        string id;
        try
        {
            id = Send();
        }
        catch (FacebookGraphException e) when (e.IsPermanent)
        {
            throw new DJPermanentFailureException(e.Message, e);
        }
        try
        {
            FacebookGraph.Options.EventCreated?.Invoke(this, id);
        }
        catch (Exception e)
        {
            throw new DJPermanentFailureException($"Facebook event {id} was created, but EventCreated threw: {e.Message}", e);
        }
    }

    private static string Iso8601(DateTimeOffset time) => time.ToString("yyyy-MM-dd'T'HH:mm:sszzz", CultureInfo.InvariantCulture);
}
