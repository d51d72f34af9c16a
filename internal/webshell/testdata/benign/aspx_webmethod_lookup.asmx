<%@ WebService Language="C#" Class="Lookup" %>
// Hand-written fixture: a web service whose parameters only feed a
// parameterized query on a fixed connection.
using System.Data.SqlClient;
using System.Web.Services;
public class Lookup : WebService {
    [WebMethod]
    public string CityName(int id) {
        using (var c = new SqlConnection(System.Configuration.ConfigurationManager.ConnectionStrings["main"].ConnectionString)) {
            c.Open();
            var cmd = new SqlCommand("SELECT name FROM city WHERE id = @id", c);
            cmd.Parameters.AddWithValue("@id", id);
            return (string)cmd.ExecuteScalar();
        }
    }
}
